"""`cibench gate ARTIFACTS_RUN_DIR --baseline SRC`: evaluate a saved run's gates again.

Rewrites the run's `gates.json` and `metrics.prom` and prints the table. Exit status: 0 no gate
failed, 6 a gate failed (whatever the run type: asking for the gates means wanting the verdict),
2 the run directory or the settings are wrong.
"""

from __future__ import annotations

import argparse
import os
import time

from cibench.artifacts import GatesFile, RunWriter, read_run
from cibench.cli.common import cli_options, cli_settings, resolve_run_dir
from cibench.gates.rules import evaluate
from cibench.gates.samples import load_run_samples
from cibench.report.pipeline import (
    EXIT_GATE_FAILED,
    failing_gates_line,
    resolve_baseline,
    write_metrics,
)
from cibench.report.summary import render_table


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


def run(args: argparse.Namespace) -> int:
    """Evaluate the gates against the baseline, print the table, rewrite gates.json."""
    options = cli_options(args)
    settings = cli_settings(options)
    run_dir = resolve_run_dir(args.run_dir, options.artifacts_or(settings))
    results = read_run(run_dir)
    source = options.baseline_or(settings)
    baseline, baseline_line = resolve_baseline(
        results,
        settings,
        source,
        pushgateway_url=options.pushgateway_or(settings),
        environ=os.environ,
    )
    verdicts = evaluate(results, baseline, settings.gates, load_run_samples(results))
    print(baseline_line)
    for line in render_table(verdicts):
        print(line)
    failing = failing_gates_line(verdicts, f"exit status {EXIT_GATE_FAILED}")
    exit_code = EXIT_GATE_FAILED if failing else 0
    gates_path = RunWriter(run_dir).write_gates(
        GatesFile(
            run_id=results.run_id,
            run_type=results.run_type,
            gates_enabled=True,
            baseline=source,
            failed=bool(failing),
            gate_failed=bool(failing),
            push_error=None,
            exit_code=exit_code,
            verdicts=[verdict.to_record() for verdict in verdicts],
        )
    )
    print(f"metrics: {write_metrics(results, verdicts, settings, time.time())}")
    print(f"gates: {gates_path}")
    if failing:
        print(failing)
    return exit_code
