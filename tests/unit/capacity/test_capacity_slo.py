"""The percentile SLO: what a profile may write, and how a load point is judged against it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cibench.capacity.slo import breaches
from cibench.client.record import RequestRecord
from cibench.config.capacity import Slo
from cibench.config.perf import PerfProfile
from cibench.perf.stats import summarize

MS = 1_000_000


def record(ttft_ms: int, gap_ms: int, tokens: int = 5, success: bool = True) -> RequestRecord:
    """A streamed request sent at 0 with its first token at `ttft_ms`, then one per `gap_ms`."""
    token_ns = [(ttft_ms + i * gap_ms) * MS for i in range(tokens)]
    rec = RequestRecord(index=0, scheduled_ns=0, start_ns=0)
    rec.token_ns = token_ns if success else []
    rec.end_ns = token_ns[-1]
    rec.success = success
    rec.completion_tokens = tokens if success else None
    if not success:
        rec.error_type = "HTTP_500"
    return rec


def test_slo_keys_name_a_latency_and_a_percentile() -> None:
    slo = Slo.model_validate({"ttft_p99_s": 0.5, "tpot_p90_s": 0.05, "fail_rate": 0.01})
    assert [(x.metric, x.percentile) for x in slo.limits()] == [
        ("ttft", 99.0),
        ("tpot", 90.0),
        ("fail_rate", None),
    ]
    assert slo.percentiles() == [90.0, 99.0]
    assert slo.describe() == "fail_rate=0.01,tpot_p90_s=0.05,ttft_p99_s=0.5"
    assert len(slo.digest()) == 8


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        ({}, "at least one limit"),
        ({"ttft_p99": 0.5}, "unknown SLO key 'ttft_p99'"),
        ({"latency_p99_s": 0.5}, "unknown SLO key"),
        ({"ttft_p100_s": 0.5}, "unknown SLO key"),
        ({"tpot_p99_s": 0}, "must be > 0"),
        ({"fail_rate": 1.5}, "fail_rate"),
    ],
)
def test_bad_slo_keys_are_rejected_with_the_accepted_form(
    slo: dict[str, float], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Slo.model_validate(slo)


def test_a_search_profile_needs_an_slo_and_a_search_section() -> None:
    with pytest.raises(ValidationError, match="needs 'slo'"):
        PerfProfile.model_validate(
            {"control_method": "search", "input_length": [8], "output_length": [8]}
        )
    with pytest.raises(ValidationError, match="whole number"):
        PerfProfile.model_validate(
            {
                "control_method": "search",
                "input_length": [8],
                "output_length": [8],
                "slo": {"tpot_p99_s": 0.05},
                "search": {"start": 1.5},
            }
        )


def test_a_search_profile_has_one_starting_point_per_shape() -> None:
    profile = PerfProfile.model_validate(
        {
            "control_method": "search",
            "input_length": [8, 16],
            "output_length": [8],
            "slo": {"tpot_p99_s": 0.05},
            "search": {"start": 4, "requests_per_probe": 10},
        }
    )
    points = profile.load_points()
    assert [(p.input_length, p.concurrency, p.num_requests) for p in points] == [
        (8, 4, 10),
        (16, 4, 10),
    ]
    rate = profile.model_copy(
        update={"search": profile.search.model_copy(update={"over": "rate"})}  # type: ignore[union-attr]
    )
    assert rate.search_point(8, 8, 12.5).request_rate == 12.5


def test_every_limit_kept_means_no_breach() -> None:
    summary = summarize([record(100, 10), record(120, 10)], [50.0, 99.0])
    assert breaches(summary, Slo({"ttft_p99_s": 0.2, "tpot_p50_s": 0.011})) == []


def test_a_limit_exceeded_is_a_breach_with_its_value() -> None:
    summary = summarize([record(100, 10), record(300, 10)], [99.0])
    (breach,) = breaches(summary, Slo({"ttft_p99_s": 0.2, "tpot_p99_s": 0.02}))
    assert breach.key == "ttft_p99_s"
    assert breach.value == pytest.approx(0.298)
    assert breach.describe() == "ttft_p99_s 0.298 > 0.2"


def test_failures_break_fail_rate_and_no_successes_break_every_latency() -> None:
    summary = summarize([record(100, 10, success=False)], [99.0])
    found = breaches(summary, Slo({"ttft_p99_s": 0.2, "fail_rate": 0.5}))
    assert [(b.key, b.value) for b in found] == [("ttft_p99_s", None), ("fail_rate", 1.0)]
    assert found[0].describe() == "ttft_p99_s no data (limit 0.2)"


def test_min_good_ratio_is_a_lower_bound_on_requests_meeting_the_goodput_slo() -> None:
    summary = summarize([record(100, 10) for _ in range(4)], [99.0])
    slo = Slo({"min_good_ratio": 0.95, "fail_rate": 0.5})
    assert [x.minimum for x in slo.limits()] == [True, False]
    assert breaches(summary, slo, good_requests=4) == []
    (breach,) = breaches(summary, slo, good_requests=3)
    assert (breach.key, breach.value, breach.minimum) == ("min_good_ratio", 0.75, True)
    assert breach.describe() == "min_good_ratio 0.75 < 0.95"
    (unjudged,) = breaches(summary, slo)  # no goodput SLO was measured: not within the SLO
    assert unjudged.describe() == "min_good_ratio no data (limit 0.95)"


def test_min_good_ratio_needs_a_goodput_slo_and_a_ratio() -> None:
    search = {
        "control_method": "search",
        "input_length": [8],
        "output_length": [8],
        "search": {"start": 4},
    }
    with pytest.raises(ValidationError, match=r"'slo.min_good_ratio' needs a 'goodput_slo'"):
        PerfProfile.model_validate({**search, "slo": {"min_good_ratio": 0.95}})
    with pytest.raises(ValidationError, match=r"'min_good_ratio' must lie in \(0, 1\]"):
        Slo.model_validate({"min_good_ratio": 1.5})
    profile = PerfProfile.model_validate(
        {**search, "slo": {"min_good_ratio": 0.95}, "goodput_slo": {"tpot_s": 0.05}}
    )
    assert profile.slo is not None
    assert profile.slo.describe() == "min_good_ratio=0.95"
