"""What every launcher hands to tests: the `Endpoint`, and the `Launcher` protocol."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from cibench.config.scenario import Scenario
from cibench.errors import LaunchError


@dataclass(frozen=True)
class Endpoint:
    """A reachable OpenAI-compatible server: where it is, which model name to ask for, the key."""

    scenario: Scenario
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)

    @property
    def api_base(self) -> str:
        """The OpenAI base URL (`…/v1`)."""
        return f"{self.base_url}/v1"

    def headers(self) -> dict[str, str]:
        """HTTP headers for every request: the bearer token when the scenario has a key."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class Launcher(Protocol):
    """Starts (or finds) a scenario's server; `stop()` is idempotent."""

    def start(self) -> Endpoint: ...

    def stop(self) -> None: ...


def normalise_base_url(url: str) -> str:
    """Strip a trailing slash and `/v1`, so `http://h:1/v1/` and `http://h:1` mean the same."""
    url = url.rstrip("/")
    return url.removesuffix("/v1")


def resolve_api_key(scenario: Scenario) -> str | None:
    """Read the key from the env var the scenario names; the key itself is never in config."""
    if not scenario.api_key_env:
        return None
    value = os.environ.get(scenario.api_key_env)
    if not value:
        raise LaunchError(
            f"scenario '{scenario.id}': api_key_env names ${scenario.api_key_env}, which is not "
            f"set. Export it before the run (the key is read from the environment only)."
        )
    return value
