"""Write a registry to `metrics.prom`, or PUT it to a Pushgateway group (timeout, one retry).

Basic-auth credentials come from environment variables whose names are in the settings; the
password never appears in a message, a log line or an exception.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler

from cibench.client.credentials import BasicAuth, auth_from_env, redact_url, split_credentials
from cibench.errors import PushError
from cibench.urls import redact_userinfo, url_problem

__all__ = [
    "BasicAuth",
    "auth_from_env",
    "push_registry",
    "redact_url",
    "split_credentials",
    "write_metrics_file",
]

DEFAULT_TIMEOUT_S = 10.0
RETRY_DELAY_S = 1.0

Handler = Callable[..., Callable[[], None]]


def write_metrics_file(path: Path, registry: CollectorRegistry) -> None:
    """Write the registry in the text exposition format, atomically (rename into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _handler(auth: BasicAuth | None) -> Handler:
    if auth is None:
        return default_handler

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, auth.username, auth.password)

    return handler


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = exc.read().decode("utf-8", "replace").strip()
        except OSError:
            body = ""
        return f"HTTP {exc.code} {exc.reason}" + (f": {body[:300]}" if body else "")
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    """Connection problems and 5xx are worth one more try; a 4xx will not change."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500
    return True


def push_registry(
    url: str,
    job: str,
    grouping_key: Mapping[str, str],
    registry: CollectorRegistry,
    *,
    auth: BasicAuth | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = 1,
    retry_delay_s: float = RETRY_DELAY_S,
) -> None:
    """PUT `registry` to `url` as the group `job` + `grouping_key` (replacing that group only).

    Credentials in the URL (`http://user:password@host`) are used when `auth` is None. Raises
    `PushError` naming the gateway (never the password) after `1 + retries` failed attempts.
    """
    problem = url_problem(url)
    if problem is not None:
        raise PushError(
            f"Pushgateway {redact_userinfo(url)}: {problem}. Pass --pushgateway http://HOST:PORT "
            "(or set pushgateway_url in settings.yaml); the metrics are still in metrics.prom."
        )
    url, url_auth = split_credentials(url)
    auth = auth or url_auth
    group = "/".join(f"{name}={value}" for name, value in grouping_key.items())
    attempts = 1 + max(retries, 0)
    reason = ""
    for attempt in range(1, attempts + 1):
        try:
            push_to_gateway(
                url,
                job=job,
                registry=registry,
                grouping_key=dict(grouping_key),
                timeout=timeout_s,
                handler=_handler(auth),
            )
            return
        except (OSError, ValueError) as exc:  # URLError/HTTPError/timeouts are OSErrors
            reason = _reason(exc)
            if attempt == attempts or not _retryable(exc):
                raise PushError(
                    f"Pushgateway {redact_url(url)}: PUT job={job} {group} failed after "
                    f"{attempt} attempt(s): {reason}. The metrics are still in metrics.prom; "
                    "resend them with `cibench push ARTIFACTS_RUN_DIR --pushgateway URL`."
                ) from exc
            time.sleep(retry_delay_s)
