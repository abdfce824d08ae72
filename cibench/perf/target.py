"""The server a perf run loads: an `Endpoint` plus the labels and log patterns perf adds.

`RunTarget` is what `run_point` and the capacity search, ladder and soak take; build it from
the scenario's `Endpoint` (`RunTarget.from_endpoint`), or from a bare URL in tests. The send
loops get only its network part, `cibench.perf.phase.Address`, with the auth header already
in the encoded request bytes (`RunTarget.headers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from cibench.client.endpoint import Endpoint, ServerProcess, auth_headers
from cibench.failures.logscan import LogPattern


@dataclass(frozen=True, slots=True)
class RunTarget:
    """The server under load: base URL without `/v1`, model name, key, and file-name labels."""

    base_url: str
    model: str
    provider: str
    scenario: str
    api_key: str | None = field(default=None, repr=False)
    process: ServerProcess | None = None
    """A server cibench started: its log is scanned and its exit noticed per load point."""
    log_patterns: tuple[LogPattern, ...] = ()
    """The log pattern library (default: the built-in one, `cibench/failures/log_patterns.yaml`)."""

    @classmethod
    def from_endpoint(
        cls, endpoint: Endpoint, log_patterns: Sequence[LogPattern] = ()
    ) -> RunTarget:
        """The scenario's running server, labelled with the scenario id (as provider too)."""
        scenario = endpoint.scenario.id
        return cls(
            endpoint.base_url,
            endpoint.model,
            provider=scenario,
            scenario=scenario,
            api_key=endpoint.api_key,
            process=endpoint.process,
            log_patterns=tuple(log_patterns),
        )

    def with_server(self, endpoint: Endpoint) -> RunTarget:
        """Another server under this target's labels and log patterns (the confirm step
        measures the baseline scenario's server as the candidate's load point)."""
        return replace(
            self,
            base_url=endpoint.base_url,
            model=endpoint.model,
            api_key=endpoint.api_key,
            process=endpoint.process,
        )

    def headers(self) -> dict[str, str]:
        """The auth headers of every request to this server (`auth_headers`)."""
        return auth_headers(self.api_key)
