"""`cibench push ARTIFACTS_RUN_DIR [--pushgateway URL]`: push a saved daily run's metrics again.

Exit status: 0 pushed, 7 the push failed (gateway unreachable or refusing), 2 the run directory,
the settings or the run type is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from cibench.artifacts import RunReader, read_run
from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.errors import CibenchError
from cibench.gates.rules import Verdict
from cibench.report.pipeline import (
    EXIT_PUSH_FAILED,
    push_instance,
    push_run,
    write_metrics,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench push`."""
    parser.add_argument(
        "run_dir",
        metavar="ARTIFACTS_RUN_DIR",
        help="a run directory (artifacts/<run_id>) or run id",
    )
    parser.add_argument(
        "--pushgateway",
        metavar="URL",
        help="Pushgateway URL (default: settings pushgateway_url, env CIBENCH_PUSHGATEWAY_URL)",
    )
    parser.add_argument(
        "--instance",
        help="grouping-key instance label (default: $CIBENCH_INSTANCE, else the hostname)",
    )
    parser.add_argument(
        "--force", action="store_true", help="push a run whose run type is not daily"
    )


def run(args: argparse.Namespace) -> int:
    """Rebuild the run's metrics (gate results from its gates.json) and PUT them per scenario."""
    options = cli_options(args)
    settings = cli_settings(options)
    run_dir = resolve_run_dir(args.run_dir, options.artifacts_or(settings))
    results = read_run(run_dir)
    if results.run_type != "daily" and not args.force:
        raise CibenchError(
            f"{run_dir}: a '{results.run_type}' run; only daily runs are pushed, because a push "
            "replaces the scenario's daily group. Pass --force to push it anyway."
        )
    url = options.pushgateway_or(settings)
    if not url:
        raise CibenchError(
            "no Pushgateway: pass --pushgateway URL or set pushgateway_url in "
            f"{options.configs_dir / 'settings.yaml'}."
        )
    now_s = time.time()
    gates = RunReader(run_dir).gates()
    verdicts = [Verdict.from_record(record) for record in gates.verdicts] if gates else []
    print(f"metrics: {write_metrics(results, verdicts, settings, now_s)}")
    lines, errors = push_run(
        results,
        verdicts,
        settings,
        url,
        instance=push_instance(options.instance, os.environ),
        environ=os.environ,
        now_s=now_s,
    )
    for line in lines:
        print(line)
    for line in errors:
        print(line, file=sys.stderr)
    return EXIT_PUSH_FAILED if errors else 0
