"""Capabilities declared on the command line (`--features`, `--expect-capabilities FILE`).

A scenario given by URL has no `features:` section to edit, so the same switches come from
the command line; they override the scenario file's for every selected scenario.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cibench.config.scenario import Features
from cibench.errors import CibenchError

_FALSE = ("false", "no", "off", "0")
_TRUE = ("true", "yes", "on", "1")


class DeclaredCapabilitiesError(CibenchError):
    """A `--features` value or an `--expect-capabilities` file names something unknown."""


def _known(name: str, where: str) -> str:
    if name not in Features.model_fields:
        known = ", ".join(Features.model_fields)
        raise DeclaredCapabilitiesError(f"{where}: unknown capability {name!r}; known: {known}")
    return name


def parse_features(text: str) -> dict[str, bool]:
    """`chat,logprobs,n=false` -> {"chat": True, "logprobs": True, "n": False} (pure)."""
    declared: dict[str, bool] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, value = item.partition("=")
        name = _known(name.strip(), "--features")
        value = value.strip().lower() or "true"
        if value not in _TRUE + _FALSE:
            raise DeclaredCapabilitiesError(
                f"--features: {item!r}: the value must be true or false"
            )
        declared[name] = value in _TRUE
    return declared


def features_from_document(data: Any, where: str) -> dict[str, bool]:
    """The capabilities a document declares (pure): a list of names (all on), a mapping of
    name to true/false, or a `capabilities.json` (every capability its probe found: on)."""
    if isinstance(data, list):
        return {_known(str(name), where): True for name in data}
    if isinstance(data, Mapping) and isinstance(data.get("findings"), Mapping):
        return {
            name: True
            for name, finding in data["findings"].items()
            if name in Features.model_fields
            and isinstance(finding, Mapping)
            and finding.get("support") == "yes"
        }
    if isinstance(data, Mapping):
        declared: dict[str, bool] = {}
        for name, value in data.items():
            if not isinstance(value, bool):
                raise DeclaredCapabilitiesError(f"{where}: {name}: expected true or false")
            declared[_known(str(name), where)] = value
        return declared
    raise DeclaredCapabilitiesError(
        f"{where}: expected a list of capability names, a mapping of name to true/false, or a "
        "capabilities.json from an earlier run"
    )


def features_from_file(path: Path) -> dict[str, bool]:
    """Read an `--expect-capabilities` file (YAML or JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise DeclaredCapabilitiesError(
            f"--expect-capabilities {path}: cannot read it ({exc})"
        ) from exc
    return features_from_document(data, f"--expect-capabilities {path}")


def with_declared(features: Features, declared: Mapping[str, bool]) -> Features:
    """`features` with the command line's declarations on top."""
    return features.model_copy(update=dict(declared)) if declared else features
