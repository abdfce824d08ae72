"""Write a registry to `metrics.prom`, or PUT it to a Pushgateway group (timeout, one retry).

Basic-auth credentials come from environment variables whose names are in the settings; the
password never appears in a message, a log line or an exception.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler

from cibench.errors import PushError

DEFAULT_TIMEOUT_S = 10.0
RETRY_DELAY_S = 1.0

Handler = Callable[..., Callable[[], None]]


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """Pushgateway basic-auth credentials (the password is kept out of `repr`)."""

    username: str
    password: str = field(repr=False)


def auth_from_env(environ: Mapping[str, str], user_env: str, password_env: str) -> BasicAuth | None:
    """Credentials from the two named env vars; None when neither is set.

    Raises `PushError` when only one of the two is set (naming the variables, not their values).
    """
    username = environ.get(user_env) or ""
    password = environ.get(password_env) or ""
    if not username and not password:
        return None
    if not username or not password:
        missing = user_env if not username else password_env
        present = password_env if not username else user_env
        raise PushError(
            f"Pushgateway basic auth: {present} is set but {missing} is not. "
            "Set both (or neither) in the environment of the run."
        )
    return BasicAuth(username, password)


def redact_url(url: str) -> str:
    """The URL without any `user:password@` part, for messages."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def split_credentials(url: str) -> tuple[str, BasicAuth | None]:
    """The URL without `user:password@`, and those credentials (None when the URL has none)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None:
        return url, None
    auth = BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    return redact_url(url), auth


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
