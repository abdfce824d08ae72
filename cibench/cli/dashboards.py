"""`cibench dashboards [--check]`: write `dashboards/vllm_cibench.json`, or fail when it drifted.

Exit status: 0 written (or, with --check, up to date), 1 with --check when the committed file
differs from what the generator produces (regenerate with `cibench dashboards` and commit).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from cibench.cli.common import cli_options, cli_settings
from cibench.dashboards import DASHBOARD_PATH, render_dashboard

MAX_DIFF_LINES = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench dashboards`."""
    parser.add_argument(
        "--output",
        type=Path,
        default=DASHBOARD_PATH,
        metavar="PATH",
        help=f"dashboard JSON file (default: {DASHBOARD_PATH})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when PATH differs from the generated dashboard",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the dashboard with the settings' metric prefix as the variable's default."""
    settings = cli_settings(cli_options(args))
    text = render_dashboard(settings.metric_prefix)
    path: Path = args.output
    if not args.check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"dashboards: wrote {path}")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == text:
        print(f"dashboards: {path} is up to date")
        return 0
    diff = list(
        difflib.unified_diff(
            current.splitlines(), text.splitlines(), str(path), "generated", lineterm="", n=1
        )
    )
    print(
        f"dashboards: {path} differs from the generator ({len(diff)} diff lines). "
        "Run `cibench dashboards` and commit the result.",
        file=sys.stderr,
    )
    for line in diff[:MAX_DIFF_LINES]:
        print(line, file=sys.stderr)
    return 1
