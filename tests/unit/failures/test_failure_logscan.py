"""The server-log pattern library: data in YAML, extensible per configs directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.errors import ConfigError
from cibench.failures.logscan import LogWindow, format_matches, load_patterns, scan_lines

VLLM_LOG = """\
INFO 11-02 10:00:01 [api_server.py:1000] Started server process [4242]
ERROR 11-02 10:00:09 [core.py:700] EngineCore encountered an issue. See stack trace above.
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.
RuntimeError: CUDA error: an illegal memory access was encountered
misc.cc:42 NCCL WARN Call to ibv_reg_mr failed
vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.
Out of memory: Killed process 4242 (python) total-vm:1234kB
Traceback (most recent call last):
"""


def test_the_builtin_library_names_the_known_failures() -> None:
    matches = scan_lines(VLLM_LOG.splitlines(), load_patterns())
    assert {m.name: m.count for m in matches} == {
        "cuda_oom": 1,
        "host_oom": 1,
        "cuda_error": 1,
        "nccl_error": 1,
        "engine_dead": 2,
        "killed_by_signal": 1,
        "traceback": 1,
    }
    oom = next(m for m in matches if m.name == "cuda_oom")
    assert oom.first_line.startswith("torch.OutOfMemoryError: CUDA out of memory")
    assert format_matches(matches[:1]).startswith("cuda_oom=1 (torch.OutOfMemoryError")


def test_quiet_logs_match_nothing() -> None:
    lines = ["INFO: 127.0.0.1 - POST /v1/chat/completions 200", "INFO Avg throughput 12 tok/s"]
    assert scan_lines(lines, load_patterns()) == []


def test_a_configs_directory_adds_and_replaces_patterns(tmp_path: Path) -> None:
    (tmp_path / "log_patterns.yaml").write_text(
        "patterns:\n"
        "  - {name: sglang_oom, regex: 'KV cache pool is full'}\n"
        "  - {name: traceback, regex: 'never matches anything'}\n"
    )
    patterns = {p.name: p for p in load_patterns(tmp_path)}
    assert "sglang_oom" in patterns
    assert patterns["traceback"].regex == "never matches anything"
    assert "cuda_oom" in patterns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patterns:\n  - {name: x, regex: '(unclosed'}\n", "not a valid regular expression"),
        ("patterns:\n  - {name: Bad Name, regex: x}\n", "patterns.0.name"),
        ("pattern: []\n", "Expected `patterns:`"),
        ("patterns: [\n", "cannot read log patterns"),
    ],
)
def test_a_bad_pattern_file_is_a_config_error_naming_it(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "log_patterns.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_patterns(tmp_path)
    assert str(tmp_path / "log_patterns.yaml") in str(caught.value)


def test_a_window_scans_only_what_was_written_after_mark(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("RuntimeError: CUDA error: old\n")
    window = LogWindow(log, patterns=load_patterns())
    window.mark()
    assert window.scan() == []
    with log.open("a") as handle:
        handle.write("INFO fine\nNCCL error: unhandled system error\n")
    assert [(m.name, m.first_line) for m in window.scan()] == [
        ("nccl_error", "NCCL error: unhandled system error")
    ]
    assert LogWindow(tmp_path / "missing.log").scan() == []
