"""Render a scenario's `command` template into an argv list (pure)."""

from __future__ import annotations

import shlex
import sys

from cibench.config.scenario import ArgValue, Scenario
from cibench.errors import LaunchError


def render_args(args: dict[str, ArgValue]) -> list[str]:
    """Turn `{"max_num_seqs": 8, "enforce_eager": True}` into `--max-num-seqs 8 --enforce-eager`.

    `True` is a bare flag, `False`/`None` are omitted, a list repeats its values after the flag.
    """
    argv: list[str] = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            argv.append(flag)
            argv.extend(str(item) for item in value)
        else:
            argv.extend([flag, str(value)])
    return argv


def render_command(scenario: Scenario, host: str, port: int) -> list[str]:
    """Fill `{python} {model} {served_model_name} {host} {port} {args}` and split into argv."""
    template = scenario.command or ""
    placeholders = {
        "python": shlex.quote(sys.executable),
        "model": shlex.quote(scenario.model),
        "served_model_name": shlex.quote(scenario.model_name),
        "host": host,
        "port": str(port),
        "args": shlex.join(render_args(scenario.args)),
    }
    try:
        rendered = template.format(**placeholders)
    except (KeyError, IndexError, ValueError) as exc:
        raise LaunchError(
            f"scenario '{scenario.id}': command template {template!r} has an unknown or malformed "
            f"placeholder ({exc}); allowed: "
            + ", ".join("{" + name + "}" for name in placeholders)
            + "."
        ) from exc
    try:
        return shlex.split(rendered)
    except ValueError as exc:
        raise LaunchError(
            f"scenario '{scenario.id}': command {template!r} cannot be split into arguments "
            f"({exc}). Close every quote in 'command' in the scenario file."
        ) from None
