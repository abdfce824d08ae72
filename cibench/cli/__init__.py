"""The `cibench` command: lint, perf, accuracy, push, gate and dashboards subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from cibench import __version__
from cibench.config.options import env_help
from cibench.errors import CibenchError

# subcommand -> (module implementing add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "lint": (
        "cibench.cli.lint",
        "validate every config (dry run) and print the expanded test plan",
    ),
    "perf": ("cibench.cli.perf", "run a perf profile against a scenario, outside pytest"),
    "accuracy": ("cibench.cli.accuracy", "run an accuracy profile against a scenario"),
    "push": ("cibench.cli.push", "build metrics from a run directory and push them"),
    "gate": ("cibench.cli.gate", "evaluate the gates of a run directory against a baseline"),
    "dashboards": ("cibench.cli.dashboards", "generate the Grafana dashboard JSON"),
    "report": ("cibench.cli.report", "write a run's one-page HTML report"),
    "compare": ("cibench.cli.compare", "compare runs side by side, with cost per token"),
    "export": ("cibench.cli.export", "write a run's results as an Excel workbook"),
}


class Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(module: str) -> Subcommand:
    return cast(Subcommand, importlib.import_module(module))


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; only lists the subcommands (their modules load on use)."""
    listing = "\n".join(f"  {name:<11} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="cibench",
        description="CI benchmark suite for vLLM / OpenAI-compatible servers.",
        epilog=f"commands:\n{listing}\n\n`cibench COMMAND --help` shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cibench {__version__}")
    parser.add_argument("command", choices=list(SUBCOMMANDS), metavar="COMMAND")
    return parser


def build_subparser(name: str) -> tuple[argparse.ArgumentParser, Subcommand]:
    """The parser of one subcommand, with the common options and its module's own."""
    module_name, help_text = SUBCOMMANDS[name]
    module = _load(module_name)
    parser = argparse.ArgumentParser(prog=f"cibench {name}", description=help_text)
    parser.add_argument(
        "--configs",
        default=None,
        metavar="DIR",
        help=f"configs directory (default: configs, {env_help('configs_dir')})",
    )
    parser.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="where run directories are (default: settings.yaml artifacts_dir, "
        f"{env_help('artifacts_dir')})",
    )
    module.add_arguments(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    if not arguments or arguments[0].startswith("-"):
        top.parse_args(arguments or ["--help"])  # prints help/version, or errors, and exits
    command = top.parse_args(arguments[:1]).command
    parser, module = build_subparser(command)
    args = parser.parse_args(arguments[1:])
    args.command = command
    try:
        return module.run(args)
    except CibenchError as exc:
        print(f"cibench {command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cibench {command}: interrupted", file=sys.stderr)
        return 130
