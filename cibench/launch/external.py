"""Reach an already running server: health check only, nothing is started or stopped."""

from __future__ import annotations

import httpx

from cibench.client.endpoint import Endpoint, auth_headers
from cibench.config.scenario import AUTO_MODEL, Scenario
from cibench.errors import LaunchError
from cibench.launch.base import normalise_base_url, resolve_api_key
from cibench.launch.health import wait_healthy


class ExternalLauncher:
    """Checks `base_url/health` within `startup_timeout_seconds`; `stop()` does nothing."""

    def __init__(self, scenario: Scenario, api_key: str | None = None) -> None:
        self.scenario = scenario
        self._api_key = api_key

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Endpoint:
        """Wait for the endpoint to answer `/health` with 200; raise `LaunchError` otherwise."""
        scenario = self.scenario
        base_url = normalise_base_url(scenario.base_url or "")
        api_key = (
            self._api_key
            if self._api_key is not None
            else resolve_api_key(scenario, required=False)
        )
        result = wait_healthy(
            base_url,
            scenario.startup_timeout_seconds,
            headers=auth_headers(api_key),
        )
        if not result.healthy:
            raise LaunchError(
                f"scenario '{scenario.id}': external server not healthy after "
                f"{result.waited_seconds:.0f} s "
                f"(GET {base_url}/health: {result.last_observation}). "
                f"Check that it is running and that base_url in the scenario file is right."
            )
        model = scenario.model_name
        if model == AUTO_MODEL:
            model = discover_model(base_url, scenario.id, api_key, scenario.api_key_env)
        return Endpoint(scenario=scenario, base_url=base_url, model=model, api_key=api_key)

    def stop(self) -> None:
        """Nothing to stop: the server belongs to someone else."""


def discover_model(
    base_url: str, scenario_id: str, api_key: str | None, key_env: str | None = None
) -> str:
    """The first model id that `GET /v1/models` lists, for scenarios whose model is `auto`."""
    headers = auth_headers(api_key)
    try:
        response = httpx.get(f"{base_url}/v1/models", headers=headers, timeout=10.0)
        models = response.json().get("data", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        response, models = None, []
    if response is not None and response.status_code in (401, 403) and not api_key:
        where = f"export ${key_env}" if key_env else "set api_key_env in the scenario"
        raise LaunchError(
            f"scenario '{scenario_id}': GET {base_url}/v1/models answered "
            f"{response.status_code}: the server needs an API key; {where} and run again."
        )
    if not models or not isinstance(models[0], dict) or "id" not in models[0]:
        raise LaunchError(
            f"scenario '{scenario_id}': model is 'auto' but GET {base_url}/v1/models lists no "
            f"model. Name the model in the scenario file (model: ...) or with --model."
        )
    return str(models[0]["id"])
