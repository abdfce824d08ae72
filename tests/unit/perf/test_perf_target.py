"""`RunTarget` is built from the scenario's `Endpoint`; its auth header is `auth_headers`'."""

from __future__ import annotations

from pathlib import Path

from cibench.client.endpoint import Endpoint, ServerProcess, auth_headers
from cibench.config.scenario import Scenario
from cibench.perf.target import RunTarget


def endpoint(scenario_id: str, url: str, key: str | None, log: str) -> Endpoint:
    scenario = Scenario(id=scenario_id, mode="external", model="m", base_url=url)
    process = ServerProcess(None, Path(log), lambda: None)
    return Endpoint(scenario, url, f"{scenario_id}-model", key, process)


def test_a_target_takes_the_endpoints_server_and_the_scenario_as_its_labels() -> None:
    server = endpoint("cand", "http://127.0.0.1:8000", "sk-target-1", "cand.log")
    target = RunTarget.from_endpoint(server)
    assert (target.base_url, target.model, target.api_key) == (
        "http://127.0.0.1:8000",
        "cand-model",
        "sk-target-1",
    )
    assert (target.provider, target.scenario) == ("cand", "cand")
    assert target.process is server.process
    assert target.headers() == auth_headers("sk-target-1") == server.headers()
    assert "sk-target-1" not in repr(target)


def test_another_server_keeps_the_labels_and_log_patterns() -> None:
    candidate = RunTarget.from_endpoint(endpoint("cand", "http://127.0.0.1:8000", None, "c.log"))
    base = endpoint("base", "http://127.0.0.1:9000", "sk-base-2", "b.log")
    moved = candidate.with_server(base)
    assert (moved.provider, moved.scenario, moved.log_patterns) == ("cand", "cand", ())
    assert (moved.base_url, moved.model, moved.process) == (
        base.base_url,
        "base-model",
        base.process,
    )
    assert moved.headers() == {"Authorization": "Bearer sk-base-2"}
    assert candidate.headers() == {}
