"""`cibench gate ARTIFACTS_RUN_DIR --baseline SRC`: evaluate a saved run's gates again.

Rewrites the run's `gates.json` and `metrics.prom` and prints the table. Exit status: 0 no gate
failed, 6 a gate failed (whatever the run type: asking for the gates means wanting the verdict)
or the baseline failed the run (an unreadable path, or `--require-baseline` and none), 2 the run
directory or the settings are wrong.
"""

from __future__ import annotations

import argparse
import os
import time

from cibench.artifacts import GatesFile, RunWriter, read_run
from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.report.pipeline import EXIT_GATE_FAILED, failing_gates_line, gate_run, write_metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cibench gate`."""
    parser.add_argument(
        "run_dir",
        metavar="ARTIFACTS_RUN_DIR",
        help="a run directory (artifacts/<run_id>) or run id",
    )
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="a Pushgateway URL, `pushgateway` (the configured one), a previous run directory or "
        "an artifacts root (default: settings baseline, env CIBENCH_BASELINE)",
    )
    parser.add_argument(
        "--pushgateway",
        metavar="URL",
        help="Pushgateway URL for `--baseline pushgateway` (env CIBENCH_PUSHGATEWAY_URL)",
    )
    parser.add_argument(
        "--require-baseline",
        action="store_true",
        default=None,
        help="fail (exit 6) when the baseline is missing, unreadable or lacks a load point "
        "(default: settings require_baseline, env CIBENCH_REQUIRE_BASELINE)",
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate the gates against the baseline, print the table, rewrite gates.json."""
    options = cli_options(args)
    settings = cli_settings(options)
    run_dir = resolve_run_dir(args.run_dir, options.artifacts_or(settings))
    results = read_run(run_dir)
    source = options.baseline_or(settings)
    outcome = gate_run(
        results,
        settings,
        source,
        pushgateway_url=options.pushgateway_or(settings),
        environ=os.environ,
        require_baseline=options.require_baseline_or(settings),
    )
    verdicts = outcome.verdicts
    for line in outcome.lines:
        print(line)
    failing = failing_gates_line(verdicts, f"exit status {EXIT_GATE_FAILED}")
    exit_code = EXIT_GATE_FAILED if failing or outcome.baseline_error else 0
    gates_path = RunWriter(run_dir).write_gates(
        GatesFile(
            run_id=results.run_id,
            run_type=results.run_type,
            gates_enabled=True,
            baseline=source,
            failed=bool(exit_code),
            gate_failed=bool(failing),
            push_error=None,
            baseline_error=outcome.baseline_error,
            exit_code=exit_code,
            verdicts=[verdict.to_record() for verdict in verdicts],
        )
    )
    print(f"metrics: {write_metrics(results, verdicts, settings, time.time())}")
    print(f"gates: {gates_path}")
    if failing:
        print(failing)
    return exit_code
