"""Measure the HTML report of existing runs: file size, render time, and load time in Chromium.

Run: `.venv/bin/python benchmarks/report_cost.py artifacts/<run_id> [more runs...]` (a few
seconds per run). For each run it prints the size of `report.html`, its number of charts, the
time to read the run and render the page (best of three, in this process, after one warm-up
render so matplotlib's import and font cache are not counted), the time a cold
`cibench report` takes end to end, and Chromium's time from navigation to the load event.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cibench.report.browser import find_browser, visit
from cibench.report.run_report import render_run_report
from cibench.report.runview import load_run


def measure(run_dir: Path) -> None:
    """Print one run's figures."""
    render_run_report(load_run(run_dir))  # warm-up: imports, font cache
    times = []
    for _ in range(3):
        started = time.perf_counter()
        rendered = render_run_report(load_run(run_dir))
        times.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cibench.cli", "report", str(run_dir), "-o", str(out)],
            check=True,
            capture_output=True,
        )
        cold = time.perf_counter() - started
        size = out.stat().st_size
        load = visit(out).load_s if find_browser() else float("nan")
    points = sum(len(view.perf) for view in load_run(run_dir).scenarios)
    print(
        f"{run_dir.name}: {points} load points, {len(rendered.plot_ids)} charts, "
        f"{size / 1024:.0f} KiB, render {min(times):.2f} s (warm), "
        f"`cibench report` {cold:.2f} s (cold), Chromium load {load:.2f} s"
    )


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for value in sys.argv[1:]:
        measure(Path(value))


if __name__ == "__main__":
    main()
