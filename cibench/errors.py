"""The cibench error family: every failure cibench reports on purpose is a `CibenchError`.

    CibenchError
    ├── ConfigError      a YAML file under configs/ is missing, malformed or inconsistent
    ├── LaunchError      a scenario's server could not be started or never became healthy
    │   └── AuthError    the server refused cibench's credentials (401/403)
    ├── DatasetError     an accuracy dataset is missing or has the wrong shape
    ├── BaselineMissing  no baseline could be found for a regression gate
    │   └── BaselineUnreadable  the baseline named explicitly does not exist or cannot be read
    └── PushError        the Pushgateway refused or could not be reached

Messages say where (file, scenario or URL), what was expected, what was found and what to do.
"""

from __future__ import annotations


class CibenchError(Exception):
    """Base class of every error cibench raises on purpose."""


class ConfigError(CibenchError):
    """A configuration file is missing, malformed or inconsistent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class LaunchError(CibenchError):
    """A scenario's server could not be started, died, or never became healthy."""


class AuthError(LaunchError):
    """The server answered 401 or 403: the API key is missing or wrong (never a capability)."""


class DatasetError(CibenchError):
    """An accuracy dataset is missing or malformed."""


class BaselineMissing(CibenchError):
    """No baseline matches the current run."""


class BaselineUnreadable(BaselineMissing):
    """`--baseline PATH` names a path that does not exist or cannot be read (a typo, say)."""


class PushError(CibenchError):
    """Metrics could not be pushed to the Pushgateway."""
