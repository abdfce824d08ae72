"""`cibench perf` outside pytest: a providers.yaml entry (acs-bench format), a named
scenario and profile, or a one-off run against a base URL with no configs directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cibench.artifacts import read_summary
from cibench.cli import main
from cibench.sim.testing import run_simulator
from tests.support.configs import configs_for_a_busy_host
from tests.support.csv_cells import read_requests as request_cells
from tests.support.csv_cells import read_summary as summary_cells

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
                "--configs", str(configs_for_a_busy_host(tmp_path / "configs")),
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


def test_a_one_off_run_against_a_url_needs_no_configs_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "a"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no configs/ here: settings' defaults, artifacts/ under cwd
    for name in ("CIBENCH_CONFIGS", "CIBENCH_ARTIFACTS", "CIBENCH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with run_simulator("--prefill-base-ms", "1", "--itl-base-ms", "1") as url:
        closed = main(["perf", "--scenario", url, "--concurrency", "4", "--num-requests", "20"])
        opened = main(
            ["perf", "--configs", str(CONFIGS), "--artifacts", str(tmp_path / "b"),
             "--scenario", url, "--rate", "40", "--arrival", "gamma", "--burstiness", "0.5",
             "--num-requests", "12", "--input-len", "16", "--output-len", "8",
             "--backend", "asyncio", "--workers", "2"]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert (closed, opened) == (0, 0), out
    assert sorted(path.name for path in empty.iterdir()) == ["artifacts"]
    run = json.loads(next((empty / "artifacts").glob("*/sim-model/run.json")).read_text())
    # the clock origin maps the host's monotonic stamps onto Unix time
    assert 0 < time.time_ns() - run["clock_origin_unix_ns"] < 600e9
    assert 0 < run["clock_origin_perf_counter_ns"] < time.perf_counter_ns()
    (row,) = summary_cells(next((empty / "artifacts").glob("*/*/perf/summary_*.csv")))
    assert (row["Concurrency"], row["Num_Requests"], row["Input_Length"]) == (4, 20, 128)
    assert row["Model"] == "sim-model"  # discovered from GET /v1/models
    (row,) = summary_cells(next((tmp_path / "b").glob("*/*/perf/summary_*_poisson_asyncio_*.csv")))
    assert (row["Request_Rate"], row["Num_Requests"], row["Output_Length"]) == (40, 12, 8)


def test_bad_one_off_options_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["perf", "--configs", str(CONFIGS), "--scenario", "http://127.0.0.1:9",
         "--num-requests", "0"]
    )  # fmt: skip
    assert code == 2
    assert "--num-requests: Input should be greater than 0" in capsys.readouterr().err
    code = main(
        [
            "perf",
            "--configs",
            str(CONFIGS),
            "--scenario",
            "http://127.0.0.1:9",
            "--burstiness",
            "0.5",
        ]
    )
    assert code == 2
    assert "'burstiness' only shapes 'arrival: gamma'" in capsys.readouterr().err


def test_the_bursty_example_profile_runs_against_local_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["perf", "--configs", str(configs_for_a_busy_host(tmp_path / "configs")),
         "--artifacts", str(tmp_path), "--scenario", "local-sim", "--profile", "bursty"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().out
    (row,) = summary_cells(next(tmp_path.glob("*/local-sim/perf/summary_*.csv")))
    assert row["Goodput_SLO"] == "ttft_s<=1,tpot_s<=0.1,e2e_s<=5"
    assert 0 < float(row["Goodput(req/s)"]) <= float(row["QPS"])
    rows = request_cells(next(tmp_path.glob("*/local-sim/perf/requests_*.csv")))
    assert len({row["Prompt_Tokens"] for row in rows}) > 5  # lengths drawn per request
    assert len({row["Completion_Tokens"] for row in rows}) > 5
