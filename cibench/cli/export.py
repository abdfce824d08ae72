"""`cibench export RUN -o run.xlsx`: a run's results as an Excel workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.report.export import REQUESTS_CAP, write_xlsx
from cibench.report.runview import load_run


def _cap(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench export`."""
    parser.add_argument(
        "run_dir", metavar="RUN", help="a run directory (artifacts/<run_id>) or run id"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="default: RUN/run.xlsx")
    parser.add_argument(
        "--max-requests",
        type=_cap,
        default=REQUESTS_CAP,
        metavar="N",
        help=f"per-request rows written at most (default: {REQUESTS_CAP})",
    )


def run(args: argparse.Namespace) -> int:
    """Write the workbook and print its path."""
    view = load_run(resolve_run_dir(args.run_dir, _artifacts(args)))
    out = Path(args.output) if args.output else view.run_dir / "run.xlsx"
    print(f"export: {write_xlsx(view, out, args.max_requests)}")
    return 0


def _artifacts(args: argparse.Namespace) -> Path:
    options = cli_options(args)
    return options.artifacts_or(cli_settings(options))
