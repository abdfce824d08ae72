"""The 2-minute soak against a simulator that degrades: does the soak verdict say `drift`?

Run: `.venv/bin/python -m benchmarks.soak_check [--artifacts DIR]` (`make soak-check`; CI runs
it). It runs `cibench perf --scenario local-sim-degrading --profile soak` (20 req/s for 120 s
in 30 s windows, every request slowing the simulator by 0.05 % and leaking 256 KiB), prints the
soak's drift table, and exits 1 unless the verdict is `drift` with latency or memory among the
drifting metrics. The unit tests run 6-second soaks; this is the full-length proof.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cibench.artifacts import read_run
from cibench.cli import main as cibench

REPO = Path(__file__).resolve().parents[1]


def run_soak(artifacts: Path) -> tuple[int, Path]:
    """`cibench perf` on the degrading simulator; (exit status, run directory)."""
    status = cibench(
        ["perf", "--configs", str(REPO / "configs"), "--artifacts", str(artifacts),
         "--scenario", "local-sim-degrading", "--profile", "soak"]
    )  # fmt: skip
    [run_dir] = [path for path in artifacts.iterdir() if path.is_dir()]
    return status, run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=None, help="where the run goes")
    args = parser.parse_args()
    artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="cibench-soak-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    status, run_dir = run_soak(artifacts)
    elapsed = time.monotonic() - started
    [scenario] = read_run(run_dir).scenarios
    rows = [row for verdict in scenario.soaks for row in verdict.rows]
    print(f"\nsoak of local-sim-degrading: exit {status}, {elapsed:.0f} s, run {run_dir}")
    for row in rows:
        change = "-" if row.change is None else f"{row.change:+.0%}"
        print(f"  {row.metric:<24} {change:>7}  {'DRIFT' if row.drift else 'stable'}")
    drifting = {row.metric for row in rows if row.drift}
    verdict = rows[0].verdict if rows else "none"
    expected = any(m.startswith(("ttft", "tpot", "e2e", "server_memory")) for m in drifting)
    if verdict != "drift" or not expected or status != 1:
        found = f"verdict {verdict!r}, drifting {sorted(drifting)}, exit {status}"
        print(f"soak-check: FAILED: {found}")
        return 1
    print(f"soak-check: drift detected ({len(drifting)} metrics), as the simulator was told to")
    return 0


if __name__ == "__main__":
    sys.exit(main())
