"""`cibench perf` outside pytest, against a providers.yaml entry (acs-bench format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.artifacts import read_summary
from cibench.cli import main
from cibench.sim.testing import run_simulator

CONFIGS = Path(__file__).parents[3] / "configs"


def test_perf_command_against_a_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_simulator("--prefill-base-ms", "1", "--itl-base-ms", "1") as url:
        providers = tmp_path / "providers.yaml"
        providers.write_text(
            "providers:\n"
            "  - id: local-sim-provider\n"
            "    name: sim\n"
            "    api_key: EMPTY\n"
            f"    base_url: {url}/v1\n"
            "    model_name: sim-model\n"
        )
        code = main(
            [
                "perf",
                "--configs", str(CONFIGS),
                "--artifacts", str(tmp_path / "artifacts"),
                "--provider", "local-sim-provider",
                "--providers", str(providers),
                "--backend", "asyncio",
            ]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ok   c1-in128-out16 " in out
    summaries = list((tmp_path / "artifacts").glob("*/local-sim-provider/perf/summary_*.csv"))
    assert [path.name.split("_")[1:4] for path in summaries] == [
        ["local-sim-provider", "fixed", "asyncio"]
    ]
    rows = read_summary(summaries[0])
    assert [row.concurrency for row in rows] == [1, 4, 16]
    assert {row.provider for row in rows} == {"local-sim-provider"}


def test_unknown_provider_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    providers = tmp_path / "providers.yaml"
    providers.write_text("providers: []\n")
    code = main(
        ["perf", "--configs", str(CONFIGS), "--provider", "nope", "--providers", str(providers)]
    )
    assert code == 2
    assert "no provider with id 'nope' (have: none)" in capsys.readouterr().err
