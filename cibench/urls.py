"""URL hygiene: take credentials out of a URL, show a URL without them, say what is wrong."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from cibench.redact import register_secret, scrub


def is_url(name: str) -> bool:
    """Whether a `--scenario` value is a base URL rather than a scenario id."""
    return name.startswith(("http://", "https://"))


def split_url_credentials(url: str) -> tuple[str, str | None]:
    """`http://user:KEY@host:8000/v1` → (`http://host:8000/v1`, `KEY`); the key is registered.

    The password is the key; a URL with only a user part (`http://KEY@host`) uses that.
    Raises ValueError (with the URL's credentials already removed) for a malformed URL.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        _check_port(parts, url)
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    key = password or user or None
    register_secret(key)
    clean = parts._replace(netloc=hostport)
    _check_port(clean, clean.geturl())
    return clean.geturl(), key


def _check_port(parts: SplitResult, shown: str) -> None:
    try:
        parts.port  # noqa: B018 (property access validates the port)
    except ValueError as exc:
        raise ValueError(f"{shown}: {exc}") from exc


def redact_userinfo(url: str) -> str:
    """`url` without any `user:password@` part, for messages about URLs that failed to parse."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return scrub(url)
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    return scrub(f"{scheme}://{authority}{slash}{tail}")


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as an http(s) base URL, or None when nothing is."""
    if any(char.isspace() for char in url):
        return "a URL cannot contain spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (property access validates the port)
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "it needs to start with http:// or https://"
    if not parts.hostname:
        return "it has no host"
    return None
