"""Dry runs of shell commands written in the project's files (CI files, the README).

`commands(script)` splits a script into simple commands; `check_command(words)` dry-runs one:
`make` targets with `make -n`, `python -m` modules and `cibench` subcommands with `--help`,
`pytest` options against `pytest --help`, repository scripts by existence. Installers, shell
keywords and GPU-only commands are left to bash's parser (`bash -n`).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SKIPPED_COMMANDS = frozenset(
    {"apt-get", "sudo", "pip", "vllm", "cd", "test", "echo", "exit", "mkdir", "export", "true"}
    | {"if", "then", "else", "fi", "[", "status=0", "git", ".", "source", "curl", "touch"}
)
"""Shell keywords, and commands that install, fetch or need a GPU: parsed by bash, not run."""
HIDDEN_ALIASES = {"--junitxml": "--junit-xml"}
"""pytest options whose help shows only the other spelling."""


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output when it exits non-zero."""
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a script (split on newlines, `&&`, `||`, `;`; comments dropped)."""
    lines = script.replace("\\\n", " ").splitlines()
    code = "\n".join(line for line in lines if not line.strip().startswith("#"))
    for raw in re.split(r"\n|&&|\|\||;", code):
        line = raw.split(">>", 1)[0].split(" # ", 1)[0].strip()
        if line:
            try:
                yield shlex.split(line)
            except ValueError:
                continue


@cache
def pytest_help() -> str:
    """`pytest --help` with the cibench plugin loaded (its options included)."""
    return run(sys.executable, "-m", "pytest", "--help")


def check_command(words: list[str]) -> None:
    """Dry-run one command (see the module docstring); unknown programs fail the test."""
    while words and re.fullmatch(r"\w+=.*", words[0]):
        words = words[1:]
    if not words:
        return
    # python3, python3.12 -> python; `.` (source) has no name
    program = re.sub(r"3(\.\d+)?$", "", Path(words[0]).name or words[0])
    if program in SKIPPED_COMMANDS or (program == "python" and words[2] in ("pip", "venv")):
        return
    if program == "python" and words[1:3] == ["-m", "pytest"]:
        program, words = "pytest", words[2:]
    if program == "make":
        run("make", "-n", *(word.replace("$", "x") for word in words[1:]))
    elif program == "pytest":
        for word in (word for word in words[1:] if word.startswith("--")):
            option = HIDDEN_ALIASES.get(word.split("=", 1)[0], word.split("=", 1)[0])
            assert re.search(rf"(^|[\s,]){re.escape(option)}([=\s,]|$)", pytest_help(), re.M), (
                option
            )
    elif program == "python" and words[1] == "-m":
        run(sys.executable, "-m", words[2], "--help")
    elif program == "cibench":
        run(str(BIN / "cibench"), words[1], "--help")
    elif program in {"sh", "bash"}:
        assert (REPO / words[1]).is_file(), words
    else:
        pytest.fail(f"no dry run for {words}: add one to tests/unit/dry_run.py")
