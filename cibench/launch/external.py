"""Reach an already running server: health check only, nothing is started or stopped."""

from __future__ import annotations

import httpx

from cibench.client.endpoint import Endpoint, auth_headers
from cibench.config.scenario import AUTO_MODEL, Scenario
from cibench.errors import AuthError, LaunchError
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
        if result.refused_status is not None:
            raise AuthError(
                f"scenario '{scenario.id}': GET {base_url}/health: "
                f"{auth_hint(result.refused_status, api_key, scenario.api_key_env)}"
            )
        if not result.healthy:
            raise LaunchError(
                f"scenario '{scenario.id}': external server not healthy after "
                f"{result.waited_seconds:.0f} s "
                f"(GET {base_url}/health: {result.last_observation}). "
                f"Check that it is running and that its URL (base_url in the scenario file, the "
                f"--scenario URL or the providers.yaml entry) is right."
            )
        model = scenario.model_name
        if model == AUTO_MODEL:
            model = discover_model(base_url, scenario.id, api_key, scenario.api_key_env)
        return Endpoint(scenario=scenario, base_url=base_url, model=model, api_key=api_key)

    def stop(self) -> None:
        """Nothing to stop: the server belongs to someone else."""

    def died(self) -> str | None:
        """Never known: the server is someone else's process."""
        return None


AUTH_STATUSES = {401: "401 Unauthorized", 403: "403 Forbidden"}


def auth_hint(status: int, api_key: str | None, key_env: str | None = None) -> str:
    """What to do about a 401/403: the key is missing or the server refuses the one sent.
    `key_env`: the env var the scenario reads its key from (named in the hint)."""
    if api_key:
        return (
            f"the server refuses the API key cibench sent ({AUTH_STATUSES.get(status, status)}). "
            "Check the key in the env var the scenario names (or in the URL)."
        )
    if key_env:
        return (
            f"the server needs an API key; export ${key_env} (the scenario's api_key_env) "
            f"and run again ({AUTH_STATUSES.get(status, status)})."
        )
    return (
        f"the server wants an API key ({AUTH_STATUSES.get(status, status)}). Set api_key_env "
        "in the scenario file, export CIBENCH_API_KEY for a URL scenario, or write it in the "
        "URL as http://user:KEY@host:port (it is never written anywhere)."
    )


def list_models(
    base_url: str, api_key: str | None, timeout: float = 10.0, key_env: str | None = None
) -> list[str]:
    """The model ids `GET /v1/models` lists; `LaunchError` saying why when it cannot be read."""
    url = f"{base_url}/v1/models"
    headers = auth_headers(api_key)
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise LaunchError(f"GET {url}: {type(exc).__name__}") from None
    if response.status_code in AUTH_STATUSES:
        raise AuthError(f"GET {url}: {auth_hint(response.status_code, api_key, key_env)}")
    if response.status_code != 200:
        raise LaunchError(f"GET {url} answered HTTP {response.status_code}")
    try:
        data = response.json().get("data", [])
    except (ValueError, AttributeError):
        raise LaunchError(f"GET {url} did not answer an OpenAI model list") from None
    if not isinstance(data, list):
        raise LaunchError(f"GET {url} did not answer an OpenAI model list")
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


def discover_model(
    base_url: str, scenario_id: str, api_key: str | None, key_env: str | None = None
) -> str:
    """The first model id that `GET /v1/models` lists, for scenarios whose model is `auto`."""
    try:
        models = list_models(base_url, api_key, key_env=key_env)
    except AuthError as exc:
        raise AuthError(f"scenario '{scenario_id}': {exc}") from None
    except LaunchError as exc:
        raise LaunchError(
            f"scenario '{scenario_id}': model is 'auto' and the model list cannot be read "
            f"({exc}). Name the model in the scenario file (model: ...) or with --model."
        ) from None
    if not models:
        raise LaunchError(
            f"scenario '{scenario_id}': model is 'auto' but GET {base_url}/v1/models lists no "
            f"model. Name the model in the scenario file (model: ...) or with --model."
        )
    return models[0]
