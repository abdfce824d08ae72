"""The `cibench` command: lint, perf, accuracy, push, gate and dashboards subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from cibench import __version__
from cibench.errors import CibenchError

# subcommand -> (module implementing add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "lint": ("cibench.lint", "validate every config (dry run) and print the expanded test plan"),
    "perf": ("cibench.perf.command", "run a perf profile against a scenario, outside pytest"),
    "accuracy": ("cibench.accuracy.command", "run an accuracy profile against a scenario"),
    "push": ("cibench.metrics.command", "build metrics from a run directory and push them"),
    "gate": ("cibench.gates.command", "evaluate the gates of a run directory against a baseline"),
    "dashboards": ("cibench.dashboards_command", "generate the Grafana dashboard JSON"),
}


class Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(module: str) -> Subcommand:
    return cast(Subcommand, importlib.import_module(module))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cibench", description="CI benchmark suite for vLLM / OpenAI-compatible servers."
    )
    parser.add_argument("--version", action="version", version=f"cibench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--configs",
            default="configs",
            metavar="DIR",
            help="configs directory (default: configs)",
        )
        sub.add_argument(
            "--artifacts",
            default="artifacts",
            metavar="DIR",
            help="artifacts directory (default: artifacts)",
        )
        sub.set_defaults(module=module)
        _load(module).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _load(args.module).run(args)
    except CibenchError as exc:
        print(f"cibench {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cibench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
