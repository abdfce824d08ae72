"""`cibench compare RUN_A RUN_B [...] -o compare.html`: runs side by side, with cost per token."""

from __future__ import annotations

import argparse
from pathlib import Path

from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.config.loader import load_pricing
from cibench.config.pricing import PRICING_FILE, Pricing
from cibench.report.compare import render_compare
from cibench.report.cost import Slo
from cibench.report.runview import load_run


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench compare`."""
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run directories or run ids; the first is the reference",
    )
    parser.add_argument(
        "-o", "--output", default="compare.html", metavar="FILE", help="default: compare.html"
    )
    parser.add_argument(
        "--pricing",
        metavar="FILE",
        help=f"price per hour per hardware label (default: CONFIGS/{PRICING_FILE} when present)",
    )
    parser.add_argument(
        "--slo-ttft-p99", type=_positive, metavar="S", help="SLO: TTFT P99 limit in seconds"
    )
    parser.add_argument(
        "--slo-tpot-p99", type=_positive, metavar="S", help="SLO: TPOT P99 limit in seconds"
    )
    parser.add_argument(
        "--slo-max-fail-rate",
        type=_positive,
        default=0.05,
        metavar="F",
        help="SLO: highest failure ratio (default: 0.05)",
    )


def run(args: argparse.Namespace) -> int:
    """Render the comparison, print its path and any points left out."""
    if len(args.runs) < 2:
        print("cibench compare: give at least two runs (the first is the reference)")
        return 2
    runs = [load_run(resolve_run_dir(value, _artifacts(args))) for value in args.runs]
    if args.pricing:
        pricing_path = Path(args.pricing)
        pricing = load_pricing(pricing_path)
    else:
        pricing_path = cli_options(args).configs_dir / PRICING_FILE
        pricing = load_pricing(pricing_path) if pricing_path.exists() else Pricing()
    slo = Slo(args.slo_ttft_p99, args.slo_tpot_p99, args.slo_max_fail_rate)
    rendered = render_compare(runs, pricing, slo, str(pricing_path))
    out = Path(args.output)
    out.write_text(rendered.html, encoding="utf-8")
    for note in rendered.notes:
        print(f"note: {note}")
    print(f"compare: {out}")
    return 0


def _artifacts(args: argparse.Namespace) -> Path:
    options = cli_options(args)
    return options.artifacts_or(cli_settings(options))
