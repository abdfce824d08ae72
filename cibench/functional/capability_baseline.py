"""The capability baseline: what a previous run's probe found, so a lost capability fails.

Each functional run writes the probe's verdicts to `<run>/<scenario>/capabilities.json`. With
a baseline configured, a capability the baseline found ("yes") and this run's probe finds
missing ("no") is a regression: its cases fail instead of being skipped, and the scenario gets
a failed `capabilities` row naming the capability and both pieces of evidence.

A source is a `capabilities.json` file, one run directory (`artifacts/<run_id>/`), or an
artifacts root, where the newest daily run that probed the scenario wins, so each daily run
refreshes the baseline of the PR runs after it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cibench.errors import CibenchError
from cibench.functional.verdicts import Finding

CAPABILITIES_FILE = "capabilities.json"


class CapabilityBaselineError(CibenchError):
    """A configured capability baseline cannot be read."""


@dataclass(frozen=True, slots=True)
class CapabilityBaseline:
    """The findings of one earlier probe of a scenario's server, and where they came from."""

    source: str
    findings: Mapping[str, Finding] = field(default_factory=dict)

    def supported(self, capability: str) -> Finding | None:
        """The baseline's finding when it found `capability` supported, else None."""
        finding = self.findings.get(capability)
        return finding if finding is not None and finding.support == "yes" else None


def findings_from_json(data: Any, where: str) -> dict[str, Finding]:
    """The findings of a `capabilities.json` document (pure)."""
    raw = data.get("findings") if isinstance(data, Mapping) else None
    if not isinstance(raw, Mapping):
        raise CapabilityBaselineError(
            f"{where}: no 'findings' object; expected a capabilities.json written by a "
            "functional run"
        )
    findings: dict[str, Finding] = {}
    for name, value in raw.items():
        support = value.get("support") if isinstance(value, Mapping) else None
        if support in ("yes", "no", "unknown"):
            findings[str(name)] = Finding(support, str(value.get("evidence", "")))
    return findings


def lost(baseline: CapabilityBaseline, capability: str, now: Finding) -> str | None:
    """Why `capability` is a regression (the baseline had it, the probe now says no), or None."""
    before = baseline.supported(capability)
    if before is None or now.support != "no":
        return None
    return (
        f"capability '{capability}' lost: supported in the capability baseline "
        f"({baseline.source}: {before.evidence}), unsupported now (probe: {now.evidence})"
    )


def _read(path: Path) -> dict[str, Finding]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CapabilityBaselineError(
            f"capability baseline {path}: cannot read it ({exc}); pass a capabilities.json, "
            "a run directory or an artifacts root"
        ) from exc
    return findings_from_json(data, f"capability baseline {path}")


def _in_run(run_dir: Path, scenario_id: str) -> Path | None:
    stage = run_dir / scenario_id
    for name in (CAPABILITIES_FILE, "capabilities-gw0.json"):
        if (stage / name).is_file():
            return stage / name
    found = sorted(stage.glob("capabilities*.json")) if stage.is_dir() else []
    return found[0] if found else None


def _daily_run_time(run_dir: Path) -> float | None:
    """When a daily run ended (None for other run types or unreadable session files)."""
    try:
        session = json.loads((run_dir / "session.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(session, Mapping) or session.get("run_type") != "daily":
        return None
    return (run_dir / "session.json").stat().st_mtime


def load_capability_baseline(
    source: Path, scenario_id: str, exclude: Path | None = None
) -> CapabilityBaseline | None:
    """The baseline for `scenario_id` from `source` (see the module docstring), or None when
    the source holds nothing for the scenario. A missing or unreadable source raises."""
    if not source.exists():
        raise CapabilityBaselineError(
            f"capability baseline {source}: no such file or directory; pass a "
            "capabilities.json, a run directory (artifacts/<run_id>/) or an artifacts root"
        )
    if source.is_file():
        return CapabilityBaseline(str(source), _read(source))
    if (source / "session.json").exists():
        path = _in_run(source, scenario_id)
        return CapabilityBaseline(str(path), _read(path)) if path else None
    runs: list[tuple[float, Path]] = []
    for child in source.iterdir():
        if exclude is not None and child.resolve() == exclude.resolve():
            continue
        when = _daily_run_time(child) if (child / "session.json").exists() else None
        if when is not None and _in_run(child, scenario_id) is not None:
            runs.append((when, child))
    if not runs:
        return None
    newest = max(runs)[1]
    path = _in_run(newest, scenario_id)
    return CapabilityBaseline(str(path), _read(path)) if path else None
