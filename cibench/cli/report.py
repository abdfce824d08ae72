"""`cibench report RUN [--baseline RUN] [-o FILE]`: (re)write a run's one-page HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.report.run_report import write_run_report
from cibench.report.runview import load_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench report`."""
    parser.add_argument(
        "run_dir", metavar="RUN", help="a run directory (artifacts/<run_id>) or run id"
    )
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        help="a previous run directory (or run id) whose curves are drawn dashed beside this run's",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="where to write (default: RUN/report.html)"
    )


def run(args: argparse.Namespace) -> int:
    """Render the report and print its path."""
    run_view = load_run(resolve_run_dir(args.run_dir, _artifacts(args)))
    baseline = load_run(resolve_run_dir(args.baseline, _artifacts(args))) if args.baseline else None
    path = write_run_report(run_view, baseline, Path(args.output) if args.output else None)
    print(f"report: {path}")
    return 0


def _artifacts(args: argparse.Namespace) -> Path:
    options = cli_options(args)
    return options.artifacts_or(cli_settings(options))
