"""The post-session step that writes `report.html`; a problem here never fails the run."""

from __future__ import annotations

from pathlib import Path

from cibench.artifacts import RunResults
from cibench.errors import CibenchError

INSTALL_HINT = "pip install 'cibench[reports]' (make venv installs it)"


def baseline_run_dir(source: str | None) -> Path | None:
    """The baseline as a run directory whose curves the report can draw, else None.

    A Pushgateway baseline has only the gated numbers (shown in the gate table), and an
    artifacts root names no single run, so neither gives curves.
    """
    if not source or "://" in source:
        return None
    path = Path(source)
    return path if (path / "session.json").is_file() else None


def write_report_step(run: RunResults, baseline_source: str | None) -> str:
    """Write `<run_dir>/report.html`; return the summary line saying where (or why not)."""
    try:
        from cibench.report.run_report import write_run_report
        from cibench.report.runview import load_run, view_from_results
    except ImportError as exc:
        return f"report: skipped ({exc.name} is not installed: {INSTALL_HINT})"
    try:
        baseline_dir = baseline_run_dir(baseline_source)
        baseline = load_run(baseline_dir) if baseline_dir is not None else None
        path = write_run_report(view_from_results(run), baseline)
    except (CibenchError, OSError, ValueError) as exc:
        return f"report: FAILED ({exc}); the other artifacts are complete."
    except Exception as exc:  # a report bug must not cost the run its verdict
        return (
            f"report: FAILED ({type(exc).__name__}: {exc}); the other artifacts are complete. "
            "This is a cibench bug: `cibench report RUN` reproduces it."
        )
    return f"report: {path}"
