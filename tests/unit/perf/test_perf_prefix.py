"""Shared-prefix workload against the simulator's prefix cache."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from cibench.artifacts import ScenarioWriter
from cibench.cli import main
from cibench.config.perf import LoadPoint, PerfProfile
from cibench.perf.runner import RunTarget, run_point
from cibench.perf.server_metrics import parse_totals, prefix_cache_hit_rate
from cibench.sim.testing import run_simulator
from tests.support.configs import configs_for_a_busy_host
from tests.support.csv_cells import read_requests, read_summary

# prefill 1 ms per token: a 1,024-token prompt takes ~1 s uncached, ~0.25 s with 768 cached
CACHING_SIM = (
    "--enable-prefix-caching", "--prefill-base-ms", "5", "--prefill-per-token-ms", "1",
    "--itl-base-ms", "2", "--jitter", "0",
)  # fmt: skip


def test_shared_prefixes_hit_the_cache_and_lower_ttft(tmp_path: Path) -> None:
    shared = PerfProfile.model_validate(
        {"input_length": [1024], "output_length": [4], "concurrency": [2], "num_requests": 6,
         "warmup": 2, "prefix_count": 2, "prefix_length": 768, "backend": "asyncio"}
    )  # fmt: skip
    unique = shared.model_copy(update={"prefix_count": 0, "prefix_length": 0})
    with run_simulator(*CACHING_SIM) as url:
        target = RunTarget(url, "sim-model", "sim", "sim-test")
        with_prefix = run_point(
            target, shared, shared.load_points()[0], ScenarioWriter(tmp_path / "shared")
        )
        without = run_point(
            target, unique, unique.load_points()[0], ScenarioWriter(tmp_path / "unique")
        )
    ttft = {}
    for name, outcome in (("shared", with_prefix), ("unique", without)):
        rows = read_requests(outcome.requests_csv)
        assert all(row["Success"] == 1 for row in rows)
        assert all(abs(float(row["Prompt_Tokens"]) - 1024) <= 1 for row in rows)
        ttft[name] = statistics.median(float(row["TTFT(s)"]) for row in rows)
    assert ttft["shared"] < ttft["unique"] * 0.6, ttft
    hit = read_summary(with_prefix.summary_csv)[0]["SERVER_PREFIX_CACHE_HIT_RATE"]
    miss = read_summary(without.summary_csv)[0]["SERVER_PREFIX_CACHE_HIT_RATE"]
    assert 0.6 < float(hit) < 0.76  # 768 of 1,024 tokens, whole 16-token blocks only
    assert float(miss) < 0.05


def test_no_measurement_is_served_from_an_earlier_ones_prompts(tmp_path: Path) -> None:
    """The next point of a sweep, a confirmation and a soak window all send prompts the
    server's prefix cache has not seen; only the very same measurement repeated would hit."""
    profile = PerfProfile.model_validate(
        {"input_length": [256], "output_length": [4], "concurrency": [1, 2], "num_requests": 6,
         "warmup": 1, "backend": "asyncio"}
    )  # fmt: skip
    c1, c2 = profile.load_points()

    def hit_rate(point: LoadPoint, salt: str, where: str) -> float:
        outcome = run_point(target, profile, point, ScenarioWriter(tmp_path / where), salt=salt)
        return float(read_summary(outcome.summary_csv)[0]["SERVER_PREFIX_CACHE_HIT_RATE"])

    with run_simulator(*CACHING_SIM) as url:
        target = RunTarget(url, "sim-model", "sim", "sim-test")
        assert hit_rate(c1, "", "first") < 0.05
        assert hit_rate(c2, "", "next-point") < 0.05
        assert hit_rate(c2, "confirm", "confirm") < 0.05
        assert hit_rate(c2, "soak-window-1", "window") < 0.05
        assert hit_rate(c2, "confirm", "same-again") > 0.9  # the cache does work


def test_sizing_by_usage_probes_leaves_no_measured_prompt_in_the_cache(tmp_path: Path) -> None:
    """A server without a chat /tokenize (llama.cpp's takes raw text) is sized with 1-token
    completions; those must not be the measured prompts, or the first requests measure the
    prompt cache (seen on llama.cpp: TTFT 17-45 ms against 300-700 ms for new prompts)."""
    profile = PerfProfile.model_validate(
        {"input_length": [256], "output_length": [4], "concurrency": [1], "num_requests": 6,
         "warmup": 1, "backend": "asyncio", "sizing": "usage"}
    )  # fmt: skip
    with run_simulator(*CACHING_SIM) as url:
        target = RunTarget(url, "sim-model", "sim", "sim-test")
        outcome = run_point(target, profile, profile.load_points()[0], ScenarioWriter(tmp_path))
    assert outcome.sizing == "usage"
    summary = read_summary(outcome.summary_csv)[0]
    assert float(summary["SERVER_PREFIX_CACHE_HIT_RATE"]) < 0.05  # was 0.5: 3 of 6 probed


def test_hit_rate_from_counter_deltas_or_the_v0_gauge() -> None:
    before = parse_totals("vllm:prefix_cache_queries_total 100\nvllm:prefix_cache_hits_total 10\n")
    after = parse_totals("vllm:prefix_cache_queries_total 300\nvllm:prefix_cache_hits_total 160\n")
    assert prefix_cache_hit_rate(before, after) == 0.75
    assert prefix_cache_hit_rate(after, after) is None  # nothing queried in between
    gauge = parse_totals("vllm:gpu_prefix_cache_hit_rate 0.4\n")
    assert prefix_cache_hit_rate({}, gauge) == 0.4
    assert prefix_cache_hit_rate({}, {}) is None


def test_prefix_must_leave_room_for_a_unique_suffix() -> None:
    with pytest.raises(ValueError, match="must be below every input length"):
        PerfProfile.model_validate(
            {"input_length": [128], "output_length": [8], "prefix_count": 2,
             "prefix_length": 128}
        )  # fmt: skip


def test_the_shared_prefix_example_profile_runs_against_local_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["perf", "--configs", str(configs_for_a_busy_host(tmp_path / "configs")),
         "--artifacts", str(tmp_path), "--scenario", "local-sim", "--profile", "shared-prefix"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().out
    (row,) = read_summary(next(tmp_path.glob("*/local-sim/perf/summary_*.csv")))
    assert float(row["SERVER_PREFIX_CACHE_HIT_RATE"]) > 0.5
