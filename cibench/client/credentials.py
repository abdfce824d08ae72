"""Basic-auth credentials for HTTP services (the Pushgateway): from env vars or a URL, and
URLs made safe to print. A password never appears in a message, a log line or an exception."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from cibench.errors import PushError
from cibench.urls import redact_userinfo


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
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        parts.port  # noqa: B018 (property access validates the port)
    except ValueError:
        return redact_userinfo(url)
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
