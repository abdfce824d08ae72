"""Multi-turn sessions: virtual users send the growing history, think between turns, and the
summary reports first-turn TTFT apart from later turns."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cibench.artifacts import ScenarioWriter
from cibench.cli import main
from cibench.client.record import RequestRecord
from cibench.config.perf import PerfProfile
from cibench.perf.runner import PointOutcome, RunTarget, run_point
from cibench.perf.stats import turn_ttft
from cibench.sim.testing import run_simulator
from tests.support.configs import BUSY_HOST_TOLERANCE
from tests.support.csv_cells import read_requests, read_summary

CONFIGS = Path(__file__).parents[3] / "configs"
FAST_SIM = ("--prefill-base-ms", "1", "--itl-base-ms", "1", "--jitter", "0")


def session_profile(**changes: Any) -> PerfProfile:
    fields: dict[str, Any] = {
        "input_length": [32], "output_length": [16], "concurrency": [2], "num_requests": 3,
        "warmup": 0, "backend": "asyncio", "session": {"turns": 3, "think_time_s": 0.02},
        **BUSY_HOST_TOLERANCE,  # the lag verdict has its own tests; this is the session logic
    }  # fmt: skip
    return PerfProfile.model_validate({**fields, **changes})


def measure(profile: PerfProfile, tmp_path: Path, *sim_args: str) -> PointOutcome:
    """Run the profile's one load point against a fresh simulator."""
    with run_simulator(*FAST_SIM, *sim_args) as url:
        return run_point(
            RunTarget(url, "sim-model", "sim", "sim-test"),
            profile,
            profile.load_points()[0],
            ScenarioWriter(tmp_path),
        )


def by_conversation(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: (row["Conversation"], row["Turn"])):
        found.setdefault(int(row["Conversation"]), []).append(row)
    return found


def test_each_turn_carries_the_history_with_the_answers_after_think_time(
    tmp_path: Path,
) -> None:
    profile = session_profile()
    outcome = measure(profile, tmp_path)
    rows = read_requests(outcome.requests_csv)
    conversations = by_conversation(rows)
    assert sorted(conversations) == [0, 1, 2]  # num_requests counts conversations
    for turns in conversations.values():
        assert [int(row["Turn"]) for row in turns] == [0, 1, 2]
        assert all(row["Success"] == 1 for row in turns)
        assert len({row["Worker"] for row in turns}) == 1  # one virtual user holds it
        assert abs(turns[0]["Prompt_Tokens"] - 32) <= 1
        for earlier, later in itertools.pairwise(turns):
            # the new user turn and the server's previous answer both join the prompt
            growth = later["Prompt_Tokens"] - earlier["Prompt_Tokens"]
            assert growth >= 32 + earlier["Completion_Tokens"] - 2, (earlier, later)
            # the next turn is due think_time_s after the previous answer ended
            think = later["Scheduled_Offset(s)"] - earlier["End_Time(s)"]
            assert think == pytest.approx(0.02, abs=1e-6)
            assert later["Start_Time(s)"] >= later["Scheduled_Offset(s)"]
    (summary,) = read_summary(outcome.summary_csv)
    assert (summary["Num_Requests"], summary["Session_Turns"]) == (9, 3)
    assert float(summary["TP50_First_Turn_TTFT(s)"]) > 0
    assert float(summary["TP50_Later_Turn_TTFT(s)"]) > 0
    assert float(summary["AVG_Later_Turn_Prompt_Tokens"]) > 32 + 16 + 32
    assert summary["AVG_Prompt_Token_Error"] <= 1  # judged on first turns only
    assert summary["Harness_Bottleneck"] == 0


def test_open_loop_starts_conversations_at_the_rate(tmp_path: Path) -> None:
    profile = session_profile(
        control_method="poisson", request_rate=[20], arrival="constant", num_requests=4
    )
    outcome = measure(profile, tmp_path)
    rows = read_requests(outcome.requests_csv)
    firsts = sorted(row["Scheduled_Offset(s)"] for row in rows if row["Turn"] == 0)
    assert firsts == pytest.approx([0.0, 0.05, 0.1, 0.15], abs=1e-6)
    assert len(rows) == 12
    assert all(row["Success"] == 1 for row in rows)
    assert outcome.health.reasons == []  # the rate is judged on conversation starts


def test_a_failed_turn_ends_its_conversation(tmp_path: Path) -> None:
    profile = session_profile(num_requests=2)
    outcome = measure(profile, tmp_path, "--error-ratio", "1")
    rows = read_requests(outcome.requests_csv)
    kinds = Counter((row["Turn"], row["Error_Type"]) for row in rows)
    assert sum(kinds.values()) == 6  # every turn asked for is counted
    assert {turn for turn, _ in kinds} == {0, 1, 2}
    assert kinds[(1, "SessionAborted")] == kinds[(2, "SessionAborted")] == 2
    assert outcome.summary.failure_ratio == 1.0


def test_turn_ttft_splits_first_turns_from_later_ones() -> None:
    def record(turn: int, ttft_ms: int, prompt: int) -> RequestRecord:
        return RequestRecord(
            index=turn, start_ns=0, end_ns=50_000_000, token_ns=[ttft_ms * 1_000_000],
            success=True, prompt_tokens=prompt, conversation=0, turn=turn,
        )  # fmt: skip

    split = turn_ttft([record(0, 10, 30), record(1, 20, 80), record(2, 40, 120)])
    assert split is not None
    assert split.first is not None
    assert split.later is not None
    assert split.first.at(50.0) == pytest.approx(0.010)
    assert split.later.at(50.0) == pytest.approx(0.030)  # median of 20 and 40 ms
    assert split.later_prompt_tokens == 100
    assert turn_ttft([RequestRecord(index=0, success=True)]) is None  # not a session


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend": "threading-pool"}, "runs on the asyncio backend"),
        ({"api": "completions"}, "needs 'api: chat'"),
        ({"session": {"turns": 1}}, "greater than or equal to 2"),
    ],
)
def test_session_profiles_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        session_profile(**changes)


def test_the_multi_turn_example_profile_runs_against_local_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["perf", "--configs", str(CONFIGS), "--artifacts", str(tmp_path),
         "--scenario", "local-sim", "--profile", "multi-turn"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().out
    (row,) = read_summary(next(tmp_path.glob("*/local-sim/perf/summary_*.csv")))
    assert (row["Num_Requests"], row["Session_Turns"]) == (24, 3)
    assert float(row["TP99_Later_Turn_TTFT(s)"]) > 0
