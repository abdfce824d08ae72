"""The shipped `external` scenario reaches a server with or without a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.config.loader import read_yaml
from cibench.config.scenario import Scenario
from cibench.errors import LaunchError
from cibench.launch.external import ExternalLauncher
from cibench.sim.testing import run_simulator

SHIPPED = Path(__file__).parents[3] / "configs" / "scenarios" / "external.yaml"


def shipped_external(base_url: str) -> Scenario:
    problems: list[str] = []
    data = read_yaml(SHIPPED, problems)
    assert isinstance(data, dict), problems
    return Scenario.model_validate({**data, "base_url": base_url})


def test_external_needs_no_key_when_the_server_needs_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CIBENCH_API_KEY", raising=False)
    with run_simulator() as url, ExternalLauncher(shipped_external(url)) as endpoint:
        assert endpoint.api_key is None
        assert endpoint.model == "sim-model"


def test_a_server_that_wants_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIBENCH_API_KEY", raising=False)
    with run_simulator("--api-key", "s3cret-value") as url:
        with pytest.raises(LaunchError, match=r"needs an API key; export \$CIBENCH_API_KEY"):
            ExternalLauncher(shipped_external(url)).start()
        monkeypatch.setenv("CIBENCH_API_KEY", "s3cret-value")
        with ExternalLauncher(shipped_external(url)) as endpoint:
            assert endpoint.model == "sim-model"
