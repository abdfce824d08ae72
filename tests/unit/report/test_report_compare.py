"""`cibench compare`: shared load points, ratios, cost per token, refusals, the page in Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cibench.cli import main
from cibench.config.loader import load_configs_collecting
from cibench.config.pricing import HardwarePrice, Pricing
from cibench.report.browser import find_browser, visit
from cibench.report.compare import headline_table, match_points, render_compare, subjects
from cibench.report.cost import (
    PointFigures,
    Slo,
    best_under_slo,
    cost_per_million,
    energy_kwh_per_million,
)
from cibench.report.runview import load_run
from tests.support.artifacts import perf_row, write_perf, write_run_json, write_session

PRICING = Pricing(hardware={"cpu": HardwarePrice(price_per_hour=2.5, power_watts=700)})


def make_run(root: Path, run_id: str, concurrencies: list[int], *, slower: float = 1.0) -> Path:
    """A run whose load points have throughput 100*c tok/s (divided by `slower`)."""
    run_dir = write_session(root / run_id, {"local-sim": ["perf"]}, run_id=run_id)
    write_run_json(run_dir, "local-sim")
    rows = [
        perf_row(
            concurrency=c,
            ttft_p99=0.1 * c * slower,
            e2e_p99=0.5 * slower,
            qps=c / slower,
            output_token_throughput=100.0 * c / slower,
            total_token_throughput=150.0 * c / slower,
        )
        for c in concurrencies
    ]
    write_perf(run_dir, "local-sim", rows)
    return run_dir


def test_cost_per_million_tokens_matches_a_hand_computed_case() -> None:
    # 1000 tok/s = 3.6M tokens an hour; at 2.50/h that is 2.50 / 3.6 = 0.69444 per 1M
    assert cost_per_million(2.5, 1000.0) == pytest.approx(0.694444, rel=1e-5)
    assert cost_per_million(2.5, 1500.0) == pytest.approx(0.462963, rel=1e-5)
    # 1M tokens at 1000 tok/s take 1000 s; 700 W * 1000 s = 700 kJ = 0.19444 kWh
    assert energy_kwh_per_million(700.0, 1000.0) == pytest.approx(0.194444, rel=1e-5)
    assert cost_per_million(2.5, 0.0) is None
    assert cost_per_million(2.5, None) is None
    assert energy_kwh_per_million(None, 1000.0) is None


def test_best_point_under_the_slo_is_the_fastest_one_that_meets_it() -> None:
    points = [
        PointFigures("c1", 100.0, ttft_p99_s=0.1, tpot_p99_s=0.01, fail_rate=0.0),
        PointFigures("c4", 350.0, ttft_p99_s=0.3, tpot_p99_s=0.02, fail_rate=0.0),
        PointFigures("c16", 900.0, ttft_p99_s=1.2, tpot_p99_s=0.05, fail_rate=0.0),
        PointFigures("c64", 950.0, ttft_p99_s=0.2, tpot_p99_s=0.02, fail_rate=0.3),
    ]
    best = best_under_slo(points, Slo(ttft_p99_s=0.5))
    assert best is not None
    assert best.label == "c4"
    assert best_under_slo(points, Slo(ttft_p99_s=0.05)) is None
    unlimited = best_under_slo(points, Slo())
    assert unlimited is not None
    assert unlimited.label == "c16"  # c64 fails too often


def test_cost_table_of_the_page_uses_the_hardware_price(tmp_path: Path) -> None:
    runs = [load_run(make_run(tmp_path, name, [10])) for name in ("a", "b")]
    html = render_compare(runs, PRICING, Slo(), "pricing.yaml").html
    # 1000 output tok/s at 2.50/h: 0.6944 per 1M output tokens; 1500 total tok/s: 0.463
    assert "0.6944" in html
    assert "0.463" in html
    assert "0.1944" in html  # kWh per 1M output tokens at 700 W


def test_mismatched_runs_are_compared_on_shared_points_only_and_say_so(tmp_path: Path) -> None:
    first = load_run(make_run(tmp_path, "a", [1, 2, 4]))
    second = load_run(make_run(tmp_path, "b", [2, 4, 8], slower=1.3))
    items = subjects([first, second])
    matching = match_points(items)
    assert matching.points == [
        "fixed/threading-pool c2 in32 out8",
        "fixed/threading-pool c4 in32 out8",
    ]
    assert matching.left_out == {
        "a": ["fixed/threading-pool c1 in32 out8"],
        "b": ["fixed/threading-pool c8 in32 out8"],
    }
    table = headline_table(items, matching)
    throughput = table[table["metric"] == "output tok/s"]["b ÷ a"].tolist()
    assert throughput == pytest.approx([1 / 1.3, 1 / 1.3])
    rendered = render_compare([first, second], PRICING, Slo(), "pricing.yaml")
    assert any("not compared" in note and "c1 in32" in note for note in rendered.notes)
    assert "not compared" in rendered.html


def test_runs_without_a_shared_load_point_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_run(tmp_path, "a", [1])
    second = make_run(tmp_path, "b", [8])
    assert main(["compare", str(first), str(second), "-o", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert "share no perf load point" in err
    assert "c1 in32 out8" in err
    assert "c8 in32 out8" in err
    assert not (tmp_path / "c.html").exists()


def test_a_bad_pricing_file_is_named_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [str(make_run(tmp_path, name, [1])) for name in ("a", "b")]
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("hardware:\n  cpu:\n    price_per_hour: -3\n")
    assert main(["compare", *runs, "--pricing", str(pricing), "-o", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert str(pricing) in err
    assert "hardware.cpu.price_per_hour" in err


def test_compare_page_opens_in_chromium_with_every_chart(tmp_path: Path) -> None:
    if find_browser() is None:
        pytest.skip("Debian `chromium` is not installed here (.ci/run installs it for CI)")
    runs = [make_run(tmp_path, "a", [1, 2, 4]), make_run(tmp_path, "b", [1, 2, 4], slower=1.3)]
    out = tmp_path / "compare.html"
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("hardware:\n  cpu:\n    price_per_hour: 2.5\n")
    assert main(["compare", *map(str, runs), "--pricing", str(pricing), "-o", str(out)]) == 0
    seen = visit(out, screenshot=tmp_path / "compare.png")
    assert seen.console_errors == []
    assert {plot.plot_id for plot in seen.plots} == {
        "compare-curves-fixed-threading-pool-in32-out8",
        "compare-ratios",
        "compare-cost",
    }
    for plot in seen.plots:
        assert plot.marks > 10, plot
    html = out.read_text()
    assert 'class="fail">0.769×' in html  # b's throughput, 1/1.3 of a's, in red


def test_hardware_without_a_price_leaves_cost_empty_and_says_so(tmp_path: Path) -> None:
    runs = [load_run(make_run(tmp_path, name, [1])) for name in ("a", "b")]
    rendered = render_compare(runs, Pricing(), Slo(), "configs/pricing.yaml")
    assert any("no price for hardware cpu in configs/pricing.yaml" in n for n in rendered.notes)


def test_lint_checks_the_pricing_file(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(Path(__file__).resolve().parents[3] / "configs", configs)
    (configs / "pricing.yaml").write_text("hardware:\n  x:\n    price_per_hr: 1\n")
    _, problems = load_configs_collecting(configs)
    assert f"{configs / 'pricing.yaml'}: hardware.x.price_per_hr: unknown key (typo?)." in problems
