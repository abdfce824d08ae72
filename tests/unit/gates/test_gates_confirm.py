"""Confirm before failing: an unsettled PR load point is measured once more, within a budget,
and the gates then pool both measurements' records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cibench.artifacts import RunWriter, ScenarioWriter, read_run
from cibench.artifacts.writer import LoadPointFiles
from cibench.config.settings import ConfirmSettings, GateThresholds, Settings
from cibench.errors import LaunchError
from cibench.gates.baseline import with_remeasured_baseline
from cibench.gates.confirm import Confirmer
from cibench.gates.rules import evaluate
from cibench.gates.samples import load_run_samples
from tests.support.artifacts import record_measured_point, write_session


def latencies(n: int, scale: float, seed: int, noise: float = 0.25) -> np.ndarray:
    return 0.2 * scale * np.random.default_rng(seed).lognormal(0.0, noise, n)


def record(writer: ScenarioWriter, scale: float, seed: int, n: int, noise: float) -> LoadPointFiles:
    """One load point of `n` successful requests, recorded as the perf stage does."""
    ttft = latencies(n, scale, seed, noise) / 4
    return record_measured_point(writer, ttft, latencies(n, scale, seed + 1, noise))


def write_run(
    run_dir: Path, scale: float, seed: int, run_type: str = "pr", n: int = 60, noise: float = 0.25
) -> LoadPointFiles:
    write_session(run_dir, {"local-sim": ["perf"]}, run_type=run_type)
    return record(RunWriter(run_dir).scenario("local-sim"), scale, seed, n, noise)


def remeasure_at(scale: float, seed: int) -> tuple[list[Path], Callable[[Path], object]]:
    """What the perf stage passes: measure the same load point again under the directory given
    (here: 200 requests at `scale`)."""
    calls: list[Path] = []

    def remeasure(where: Path) -> object:
        calls.append(where)
        return record(ScenarioWriter(where), scale, seed, 200, 0.25)

    return calls, remeasure


def confirmer(baseline: Path, tmp_path: Path, budget_s: float = 60.0) -> Confirmer:
    settings = Settings(gates=GateThresholds(confirm=ConfirmSettings(budget_seconds=budget_s)))
    return Confirmer(
        settings=settings,
        run_type="pr",
        source=str(baseline),
        pushgateway_url=None,
        run_dir=tmp_path / "pr",
        environ={},
    )


def test_an_unsettled_point_is_re_measured_once_and_the_gates_pool_both(tmp_path: Path) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)  # 60 noisy samples, 12 % slower
    calls, remeasure = remeasure_at(1.0, seed=3)
    confirm = confirmer(tmp_path / "base", tmp_path)

    lines = confirm.after_point("local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure)

    assert calls == [tmp_path / "pr" / "local-sim" / "confirm"]
    [line] = lines
    assert line.startswith("confirm fixed/threading-pool c2 in32 out8: ")
    assert "INCONCLUSIVE" in line
    assert "re-measured in" in line
    assert "pooled: ttft_p99" in line
    run = read_run(tmp_path / "pr")
    assert len(run.scenarios[0].perf) == 1  # the re-measurement is no load point of its own
    samples = load_run_samples(run)
    [pooled] = samples.values()
    assert pooled.confirmed
    assert pooled.count == 260
    verdicts = evaluate(run, confirm.baseline("local-sim"), confirm.settings.gates, samples)
    [e2e] = [v for v in verdicts if v.gate == "e2e_p99"]
    assert "re-measured: 2 measurements pooled" in e2e.detail


def test_a_clear_pass_is_not_re_measured_and_the_budget_bounds_the_rest(tmp_path: Path) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)

    tight = confirmer(tmp_path / "base", tmp_path, budget_s=1.0)
    [line] = tight.after_point("local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure)
    assert "not re-measured (the 1 s confirmation budget has 1 s left" in line
    assert calls == []

    write_run(tmp_path / "quiet", 1.0, seed=1, run_type="daily", n=400, noise=0.02)
    same = write_run(tmp_path / "same", 1.0, seed=5, n=400, noise=0.02)
    relaxed = confirmer(tmp_path / "quiet", tmp_path)
    assert (
        relaxed.after_point("local-sim", same.summary_csv, same.requests_csv, 5.0, remeasure) == []
    )
    assert calls == []


def test_nothing_is_confirmed_on_a_daily_run_or_without_a_baseline(tmp_path: Path) -> None:
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)
    base = confirmer(tmp_path / "base", tmp_path)
    for off in (
        Confirmer(base.settings, "daily", str(tmp_path / "base"), None, tmp_path / "pr"),
        Confirmer(base.settings, "pr", None, None, tmp_path / "pr"),
        Confirmer(base.settings, "pr", str(tmp_path / "base"), None, tmp_path / "pr", False),
    ):
        assert not off.active
        assert (
            off.after_point("local-sim", files.summary_csv, files.requests_csv, 1.0, remeasure)
            == []
        )
    assert calls == []


def test_a_baseline_scenario_is_measured_first_and_pooled_into_the_baseline(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    order: list[str] = []

    def remeasure(where: Path) -> object:
        order.append(where.name)
        return record(ScenarioWriter(where), 1.12, 3, 200, 0.25)

    def remeasure_baseline(where: Path) -> object:
        order.append(where.name)  # a busier machine now: the baseline build is slower too
        return record(ScenarioWriter(where), 1.12, 4, 200, 0.25)

    confirm = confirmer(tmp_path / "base", tmp_path)
    [line] = confirm.after_point(
        "local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure, remeasure_baseline
    )

    assert order == ["confirm-baseline", "confirm"]
    assert "re-measured with the baseline scenario (interleaved)" in line
    run = read_run(tmp_path / "pr")
    recorded = confirm.baseline("local-sim")
    fresh = with_remeasured_baseline(recorded, run)
    assert recorded is not None
    assert fresh is not None
    [(where, before)] = recorded.points.items()
    after = fresh.points[where]
    assert after.samples is not None
    assert after.samples.count == 260
    assert before.e2e_p99_s is not None
    assert after.e2e_p99_s is not None
    assert after.e2e_p99_s > before.e2e_p99_s
    verdicts = evaluate(run, fresh, confirm.settings.gates, load_run_samples(run))
    [e2e] = [v for v in verdicts if v.gate == "e2e_p99"]
    assert "baseline re-measured: 2 measurements pooled" in e2e.detail
    assert e2e.baseline == after.e2e_p99_s


def test_a_baseline_scenario_that_cannot_start_leaves_the_candidate_re_measured(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "base", 1.0, seed=1, run_type="daily")
    files = write_run(tmp_path / "pr", 1.12, seed=2)
    calls, remeasure = remeasure_at(1.0, seed=3)

    def broken(where: Path) -> object:
        raise LaunchError("scenario 'main-build': the server exited with status 1")

    confirm = confirmer(tmp_path / "base", tmp_path)
    [line] = confirm.after_point(
        "local-sim", files.summary_csv, files.requests_csv, 5.0, remeasure, broken
    )

    assert "re-measured (the baseline scenario could not be measured: scenario 'main-build'" in line
    assert len(calls) == 1
