"""Where the server under test is, and the one place its auth header is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cibench.config.scenario import Scenario
from cibench.redact import register_secret


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The headers that authenticate a request: a bearer token when there is a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True)
class ServerProcess:
    """What a perf run may watch of a server cibench started: its process and its log."""

    pid: int | None
    """The local server's process (the root of its process tree); None for pods."""
    log_path: Path
    """The file the server's (or pods') output goes to."""
    exit_status: Callable[[], str | None] = field(compare=False, repr=False)
    """`exited with code 1` / `exited on signal SIGKILL` once it has exited, else None."""


@dataclass(frozen=True)
class Endpoint:
    """A reachable OpenAI-compatible server: where it is, which model name to ask for, the key."""

    scenario: Scenario
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    process: ServerProcess | None = field(default=None, compare=False)
    """Set by launchers that start the server (local; k8s without a pid)."""

    def __post_init__(self) -> None:
        register_secret(self.api_key)

    @property
    def api_base(self) -> str:
        """The OpenAI base URL (`…/v1`)."""
        return f"{self.base_url}/v1"

    def headers(self) -> dict[str, str]:
        """HTTP headers for every request: the bearer token when the scenario has a key."""
        return auth_headers(self.api_key)
