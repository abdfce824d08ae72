"""Every command in the README's and docs' `bash` blocks works as written (dry run), so a command
that rots fails the build. `make bench` and `make test` themselves run in CI (`.ci/run`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dry_run import REPO, check_command, commands, run

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def bash_blocks(path: Path) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang in ("bash", "sh")]


def test_the_readme_starts_with_the_two_commands() -> None:
    [first, *_] = bash_blocks(REPO / "README.md")

    assert [words[:2] for words in commands(first)][:2] == [["make", "bench"], ["make", "test"]]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_command_in_a_bash_block_works(path: Path) -> None:
    for block in bash_blocks(path):
        run("bash", "-n", "-c", block)
        for words in commands(block):
            check_command(words)


def test_ci_runs_the_readme_commands() -> None:
    ci = (REPO / ".ci" / "run").read_text()

    assert "make test" in ci
    assert "make bench" in ci
