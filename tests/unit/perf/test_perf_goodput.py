"""Goodput: requests meeting a per-request SLO per second, by hand and on a recorded run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter
from cibench.client.record import RequestRecord
from cibench.config.perf import PerfProfile, RequestSlo
from cibench.perf.runner import RunTarget, run_point
from cibench.perf.stats import goodput, meets_slo
from cibench.sim.testing import run_simulator
from tests.support.csv_cells import read_requests, read_summary

MS = 1_000_000


def streamed(ttft_ms: int, gap_ms: int, tokens: int, success: bool = True) -> RequestRecord:
    """A request sent at 0 whose `tokens` chunks arrive `gap_ms` apart after `ttft_ms`."""
    times = [(ttft_ms + i * gap_ms) * MS for i in range(tokens)]
    return RequestRecord(
        index=0, end_ns=times[-1] + MS, token_ns=times, completion_tokens=tokens, success=success
    )


def test_a_request_is_good_only_when_it_meets_every_limit() -> None:
    records = [
        streamed(100, 20, 11),  # ttft 0.1, tpot 0.02, e2e 0.3: good
        streamed(150, 20, 11),  # ttft 0.15 > 0.12
        streamed(100, 30, 11),  # tpot 0.03 > 0.025
        streamed(100, 20, 1),  # one token: no TPOT to judge, e2e 0.1: good
        streamed(50, 20, 11, success=False),  # failed
    ]
    limits = {"ttft_limit_s": 0.12, "tpot_limit_s": 0.025, "e2e_limit_s": 0.5}
    assert [meets_slo(r, **limits) for r in records] == [True, False, False, True, False]
    assert not meets_slo(streamed(100, 20, 11), e2e_limit_s=0.25)  # e2e 0.3
    assert goodput(2, 4.0) == 0.5
    assert goodput(2, None) is None


def test_slo_needs_a_limit_and_describes_itself() -> None:
    assert RequestSlo(ttft_s=0.5, e2e_s=2).describe() == "ttft_s<=0.5,e2e_s<=2"
    with pytest.raises(ValueError, match="at least one of"):
        RequestSlo()
    with pytest.raises(ValueError, match="'min_good_ratio' needs a 'goodput_slo'"):
        PerfProfile.model_validate(
            {"input_length": [8], "output_length": [8], "min_good_ratio": 0.5}
        )


def test_goodput_in_the_summary_matches_the_recorded_requests(tmp_path: Path) -> None:
    # 20-40 ms TTFT with jitter; about half of the requests meet a 30 ms TTFT limit
    sim = ("--prefill-base-ms", "30", "--itl-base-ms", "2", "--jitter", "0.3")
    chosen = PerfProfile.model_validate(
        {
            "input_length": [16],
            "output_length": [8],
            "concurrency": [2],
            "num_requests": 16,
            "goodput_slo": {"ttft_s": 0.030, "tpot_s": 0.5, "e2e_s": 5.0},
            "min_good_ratio": 1.0,
        }
    )
    with run_simulator(*sim) as url:
        target = RunTarget(url, "sim-model", "sim", "sim-test")
        outcome = run_point(target, chosen, chosen.load_points()[0], ScenarioWriter(tmp_path))
    rows = read_requests(outcome.requests_csv)
    good = [
        row
        for row in rows
        if row["Success"] == 1
        and 0 <= float(row["TTFT(s)"]) <= 0.030
        and float(row["TPOT(s)"]) <= 0.5
        and float(row["E2E(s)"]) <= 5.0
    ]
    (summary,) = read_summary(outcome.summary_csv)
    assert summary["Good_Requests"] == len(good) == outcome.good_requests
    assert summary["Goodput(req/s)"] == pytest.approx(len(good) / float(summary["Total_Time(s)"]))
    assert summary["Goodput_SLO"] == "ttft_s<=0.03,tpot_s<=0.5,e2e_s<=5"
    assert summary["Sizing_Method"] == "tokenize"
    assert 0 <= float(summary["MAX_Prompt_Token_Error"]) <= 1
    assert len(good) < len(rows)  # TTFT centres on the limit: some miss it
    assert any(p.startswith("goodput: ") for p in outcome.problems(0.05, 1.0))
