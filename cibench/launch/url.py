"""Turn `--scenario http://[user:KEY@]host:port` into an `external` scenario with a stable id.

The id comes from the served model's name (asked of `GET /v1/models` when no `--model` is
given), so baselines and dashboards follow the model, not a port that changes between runs;
`--scenario-id` overrides it. Credentials in the URL become the API key and appear nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cibench.config.scenario import AUTO_MODEL, SCENARIO_ID_PATTERN, Scenario
from cibench.errors import AuthError, ConfigError, LaunchError
from cibench.launch.base import normalise_base_url
from cibench.launch.external import list_models
from cibench.urls import redact_userinfo, split_url_credentials, url_problem

DISCOVERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class UrlScenario:
    """The scenario for a URL and the key its userinfo carried (None: none in the URL)."""

    scenario: Scenario
    api_key: str | None = field(default=None, repr=False)
    discovery_error: str | None = None


def parse_url(url: str) -> tuple[str, str | None]:
    """The base URL without credentials or `/v1`, and the key; `ConfigError` when malformed."""
    try:
        clean, key = split_url_credentials(url.strip())
    except ValueError as exc:
        raise ConfigError(
            [
                f"--scenario {redact_userinfo(url)}: not a valid URL ({redact_userinfo(str(exc))})."
                " Write it as http://HOST:PORT (IPv6: http://[::1]:8000)."
            ]
        ) from None
    problem = url_problem(clean)
    if problem is not None:
        raise ConfigError([f"--scenario {clean}: {problem}. Write it as http://HOST:PORT."])
    return normalise_base_url(clean), key


def check_scenario_id(value: str) -> str:
    """`value` if it is a valid scenario id; `ConfigError` otherwise."""
    if not re.match(SCENARIO_ID_PATTERN, value):
        raise ConfigError(
            [
                f"--scenario-id {value!r}: use letters, digits, '_', '.', '-' and start with a "
                "letter or digit (it names the run directory and the metric label)."
            ]
        )
    return value


def url_scenario(
    url: str,
    model: str | None = None,
    scenario_id: str | None = None,
    env_key: str | None = None,
) -> UrlScenario:
    """Build the scenario for `url`, asking the server for its model name when none is given.

    A server that cannot be asked now (down, or refusing the key) keeps the model `auto` and a
    `host-port` id; the launch then fails with the full reason instead of collection.
    """
    base_url, key = parse_url(url)
    if scenario_id is not None:
        check_scenario_id(scenario_id)
    resolved = model or AUTO_MODEL
    error = None
    if resolved == AUTO_MODEL:
        try:
            models = list_models(base_url, key or env_key, DISCOVERY_TIMEOUT_SECONDS)
        except (AuthError, LaunchError) as exc:
            error = str(exc)
        else:
            resolved = models[0] if models else AUTO_MODEL
    scenario = Scenario.from_url(base_url, resolved, scenario_id)
    return UrlScenario(scenario, key, error)
