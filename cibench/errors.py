"""The cibench error family: every failure cibench reports on purpose is a `CibenchError`.

    CibenchError
    ├── ConfigError      a YAML file under configs/ is missing, malformed or inconsistent
    ├── LaunchError      a scenario's server could not be started or never became healthy
    ├── DatasetError     an accuracy dataset is missing or has the wrong shape
    ├── BaselineMissing  no baseline could be found for a regression gate
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


class DatasetError(CibenchError):
    """An accuracy dataset is missing or malformed."""


class BaselineMissing(CibenchError):
    """No baseline matches the current run."""


class PushError(CibenchError):
    """Metrics could not be pushed to the Pushgateway."""
