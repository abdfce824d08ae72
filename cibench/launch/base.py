"""The `Launcher` protocol: what starts or finds a server and hands tests an `Endpoint`."""

from __future__ import annotations

import os
from typing import Protocol

from cibench.client.endpoint import Endpoint
from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.redact import register_secret


class Launcher(Protocol):
    """Starts (or finds) a scenario's server; `stop()` is idempotent."""

    def start(self) -> Endpoint: ...

    def stop(self) -> None: ...

    def died(self) -> str | None:
        """Why the started server is gone (`exited with code 1`), or None while it runs."""
        ...


def normalise_base_url(url: str) -> str:
    """Strip a trailing slash and `/v1`, so `http://h:1/v1/` and `http://h:1` mean the same."""
    url = url.rstrip("/")
    return url.removesuffix("/v1")


def resolve_api_key(scenario: Scenario, required: bool = True) -> str | None:
    """Read the key from the env var the scenario names; the key itself is never in config.

    `required=False` (a server someone else runs): an unset variable means no key, since the
    server may need none; a server that does answers 401, which names the variable.
    """
    if not scenario.api_key_env:
        return None
    value = os.environ.get(scenario.api_key_env)
    if not value and not required:
        return None
    if not value:
        raise LaunchError(
            f"scenario '{scenario.id}': api_key_env names ${scenario.api_key_env}, which is not "
            f"set. Export it before the run (the key is read from the environment only)."
        )
    register_secret(value)
    return value
