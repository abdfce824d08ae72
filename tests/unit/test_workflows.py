"""The CI files: schema-valid, no medium/high zizmor finding, and their commands work as written.

Every `run:` step of the GitHub workflows and every `script:` line of the GitLab files is parsed
by bash, `make` targets are dry-run (`make -n`), `python -m` modules answer `--help`, and the
GitLab `bench-pr` + `gate` scripts run for real with the bench replaced by a real gate evaluation
that fails (exit 6): the gate job must then fail.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dry_run import BIN, REPO, check_command, commands, run

from tests.support.artifacts import write_complete_run

GITHUB_WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
GITLAB_FILES = [REPO / ".gitlab-ci.yml", *sorted((REPO / "ci").glob("*.gitlab-ci.yml"))]


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}: run `make venv`")
    return str(found)


def github_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in GITHUB_WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "run" in step:
                    yield path.name, job_id, step


def gitlab_scripts() -> Iterator[tuple[str, str, str]]:
    for path in GITLAB_FILES:
        for job_id, job in yaml.safe_load(path.read_text()).items():
            if not isinstance(job, dict):
                continue
            for key in ("before_script", "script", "after_script"):
                lines = job.get(key, [])
                for line in [lines] if isinstance(lines, str) else lines:
                    yield path.name, job_id, line


def test_github_workflows_match_the_schema() -> None:
    assert GITHUB_WORKFLOWS
    schema = "vendor.github-workflows"
    run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, GITHUB_WORKFLOWS))


def test_gitlab_files_match_the_schema() -> None:
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, GITLAB_FILES))


def test_zizmor_finds_nothing_medium_or_high() -> None:
    output = run(tool("zizmor"), "--offline", "--min-severity", "medium", ".github/workflows")

    assert "No findings to report" in output


def test_every_github_action_is_pinned_by_commit_with_its_tag_in_a_comment() -> None:
    for path in GITHUB_WORKFLOWS:
        for line in path.read_text().splitlines():
            if "uses:" in line and not line.strip().startswith("#"):
                reference = line.split("uses:", 1)[1].strip()
                if reference.startswith("./"):
                    continue
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v[\d.]+", reference), line


def test_every_github_run_step_parses_and_uses_no_inline_expression() -> None:
    steps = list(github_steps())

    assert len(steps) >= 8
    for name, job, step in steps:
        script = step["run"]
        # ${{ }} in a script is a template-injection risk: values go through `env:` instead
        assert "${{" not in script, (name, job, script)
        run("bash", "-n", "-c", script)


def step_variables(workflow: Path, job: str, step: dict[str, Any]) -> list[dict[str, str]]:
    """Every value set of the step's `env:` (a `${{ matrix.x }}` takes each matrix value)."""
    matrix = yaml.safe_load(workflow.read_text())["jobs"][job].get("strategy", {}).get("matrix", {})
    sets: list[dict[str, str]] = [{}]
    for name, expr in step.get("env", {}).items():
        found = re.fullmatch(r"\$\{\{ *matrix\.(\w+) *\}\}", str(expr))
        values = [str(v) for v in matrix[found[1]]] if found else ["x"]
        sets = [{**current, name: value} for current in sets for value in values]
    return sets


def expand_variables(script: str, variables: dict[str, str]) -> str:
    """`$NAME` replaced where `variables` has NAME; other references stay."""
    return re.sub(r"\$(\w+)", lambda m: variables.get(m[1], m[0]), script)


def test_every_ci_command_works_as_written() -> None:
    checked = 0
    for path in GITHUB_WORKFLOWS:
        for name, job, step in github_steps():
            if name != path.name:
                continue
            for variables in step_variables(path, job, step):
                script = expand_variables(step["run"], variables)
                for words in commands(script):
                    check_command(words)
                    checked += 1
    for _, _, line in gitlab_scripts():
        run("bash", "-n", "-c", line)
        for words in commands(line):
            check_command(words)
            checked += 1

    assert checked >= 15


def gitlab_job(name: str) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())[name]
    return job


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of what the GitLab jobs use: .ci/, plus a `make` that runs a failing real gate."""
    shutil.copytree(REPO / ".ci", tmp_path / ".ci")
    base = write_complete_run(tmp_path / "artifacts" / "base", ttft_p99=0.2)
    current = write_complete_run(tmp_path / "artifacts" / "current", ttft_p99=0.5)
    shim = tmp_path / "bin" / "make"
    shim.parent.mkdir()
    # `make bench` stands for the PR session; here the real post-session gate over saved runs
    shim.write_text(
        "#!/bin/sh\n"
        f"exec {BIN / 'cibench'} gate {current} --baseline {base} "
        f"--configs {tmp_path / 'no-configs'}\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    status = tmp_path / "ci-status"
    status.mkdir()
    for job in ("lint", "typecheck", "unit"):
        (status / job).write_text("success\n")
    return tmp_path


def run_job(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A GitLab job's script lines in one `sh -e` shell, as the runner does."""
    script = "\n".join(gitlab_job(name)["script"])
    env = {**os.environ, "PATH": f"{cwd / 'bin'}:{os.environ['PATH']}", "SCENARIO": "local-sim"}
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def test_the_gitlab_gate_job_fails_when_the_bench_gate_fails(workdir: Path) -> None:
    bench = run_job("bench-pr", workdir)
    (workdir / "ci-status" / "bench-pr").write_text("failed\n")

    gate = run_job("gate", workdir)

    assert bench.returncode == 6, bench.stdout + bench.stderr
    assert (workdir / "artifacts" / "exit-status").read_text().strip() == "6"
    assert "### Gates" in bench.stdout  # the Markdown gate table in the job log
    assert gate.returncode != 0
    assert "exit status 6: a regression gate failed" in gate.stdout


def test_the_gitlab_gate_job_passes_only_when_everything_passed(workdir: Path) -> None:
    (workdir / "artifacts" / "exit-status").write_text("0\n")
    (workdir / "ci-status" / "bench-pr").write_text("success\n")

    assert run_job("gate", workdir).returncode == 0
    (workdir / "ci-status" / "unit").unlink()  # a job that never ran
    missing = run_job("gate", workdir)
    assert missing.returncode != 0
    assert "unit: no status" in missing.stdout
