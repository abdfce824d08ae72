"""Test cibench on every supported Python, and as an installed wheel (run by `.ci/run`).

`make test` runs the full suite on the main interpreter (Makefile `PYTHON`, 3.11). These sessions
cover the rest within the CI time budget:

- `fast-3.10`, `fast-3.12`, `fast-3.13`: a clean venv with the core install plus the test tools,
  pinned by constraints.txt, running the fast unit subset (`FAST_TESTS`);
- `wheel`: builds the wheel, installs it with no extras into a clean venv, and runs
  `pytest --scenario local-sim` from a directory outside the checkout that holds only its own
  configs and the stage test files, so nothing is imported from the source tree.

`nox -l` lists them; `nox -s fast-3.12` runs one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = str(ROOT / "constraints.txt")
FAST_PYTHONS = ["3.10", "3.12", "3.13"]
FAST_TESTS = [
    "tests/unit/config",
    "tests/unit/metrics",
    "tests/unit/gates",
    "tests/unit/client",
    "tests/unit/perf/test_perf_stats.py",
    "tests/unit/perf/test_perf_csvio.py",
    "tests/unit/perf/test_perf_schedule.py",
    "tests/unit/perf/test_perf_workload.py",
    "tests/unit/test_plugin.py",
]
"""Logic, file formats and the plugin's sessions on a real simulator: what differs by version.
Timing assertions (load generation, simulator latencies) run on the main interpreter only."""
STAGE_TESTS = ("functional", "perf", "accuracy")

nox.options.sessions = [*(f"fast-{python}" for python in FAST_PYTHONS), "wheel"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"


@nox.session(name="fast", python=FAST_PYTHONS)
def fast(session: nox.Session) -> None:
    """The fast unit subset on one interpreter, from an editable core install."""
    session.install("-c", CONSTRAINTS, "-e", ".", "pytest-timeout", "pytest-xdist")
    session.run("python", "-m", "pytest", "-q", *FAST_TESTS, *session.posargs)


@nox.session(python="3.11")
def wheel(session: nox.Session) -> None:
    """Build the wheel, install it (core only) and run a short bench outside the checkout."""
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("-c", CONSTRAINTS, "build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT))
    [built] = dist.glob("cibench-*.whl")
    session.install("-c", CONSTRAINTS, str(built))
    # the version does not change between builds: replace the reused venv's copy explicitly
    session.install("--force-reinstall", "--no-deps", str(built))
    project = Path(session.create_tmp()) / "my-bench"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT / "configs", project / "configs")
    for stage in STAGE_TESTS:
        shutil.copytree(ROOT / "tests" / stage, project / "tests" / stage)
    session.chdir(project)
    where = session.run("python", "-c", "import cibench; print(cibench.__file__)", silent=True)
    if where is None or "site-packages" not in str(where):
        session.error(f"cibench was imported from the checkout, not the wheel: {where}")
    session.run("cibench", "lint", "--configs", "configs")
    session.run(
        "python",
        "-m",
        "pytest",
        "--scenario",
        "local-sim",
        "-m",
        "functional or perf",
        "-p",
        "no:cacheprovider",
        "tests",
        *session.posargs,
    )
