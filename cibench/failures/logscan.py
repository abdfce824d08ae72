"""Scan a server log for known error lines with a pattern library kept as data (YAML).

The built-in library is `log_patterns.yaml` beside this module; a configs directory may add
or replace patterns in `<configs>/log_patterns.yaml`. `LogWindow` remembers where a log file
ended so only the lines written during one load point are scanned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cibench.errors import ConfigError

__all__ = [
    "BUILTIN_PATTERNS",
    "LogMatch",
    "LogPattern",
    "LogWindow",
    "format_matches",
    "load_patterns",
    "scan_lines",
]

BUILTIN_PATTERNS = Path(__file__).with_name("log_patterns.yaml")
PATTERNS_FILE = "log_patterns.yaml"
"""The file name a configs directory may hold to extend the library."""
MAX_LINE = 300
"""Matched lines are cut to this many characters."""
MAX_SCAN_BYTES = 32 * 1024 * 1024
"""At most this much of a load point's new log output is read (the newest part)."""


class LogPattern(BaseModel):
    """One named pattern: a regular expression matched case-insensitively per line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    regex: str
    description: str = ""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    def compiled(self) -> re.Pattern[str]:
        """The compiled, case-insensitive expression."""
        return re.compile(self.regex, re.IGNORECASE)


class _PatternFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patterns: list[LogPattern]


def _read(path: Path) -> list[LogPattern]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _PatternFile.model_validate(data).patterns
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path}: cannot read log patterns ({exc})."]) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            [
                f"{path}: {where}: {first['msg']}. Expected `patterns:` as a list of "
                "{name: lower_snake_case, regex: ..., description: ...} (docs/capacity.md)."
            ]
        ) from exc


def load_patterns(configs_dir: Path | None = None) -> list[LogPattern]:
    """The built-in library, then `<configs_dir>/log_patterns.yaml` (same name replaces)."""
    by_name = {pattern.name: pattern for pattern in _read(BUILTIN_PATTERNS)}
    if configs_dir is not None and (configs_dir / PATTERNS_FILE).is_file():
        by_name.update({pattern.name: pattern for pattern in _read(configs_dir / PATTERNS_FILE)})
    return list(by_name.values())


@dataclass(slots=True)
class LogMatch:
    """A pattern that matched: how many lines, and the first one (cut to `MAX_LINE`)."""

    name: str
    count: int
    first_line: str


def scan_lines(lines: list[str], patterns: list[LogPattern]) -> list[LogMatch]:
    """Every pattern that matched at least one line, in library order."""
    found: list[LogMatch] = []
    for pattern in patterns:
        regex = pattern.compiled()
        hits = [line for line in lines if regex.search(line)]
        if hits:
            found.append(LogMatch(pattern.name, len(hits), hits[0].strip()[:MAX_LINE]))
    return found


def format_matches(matches: list[LogMatch]) -> str:
    """`cuda_oom=2 (torch.OutOfMemoryError: CUDA out of memory ...) | engine_dead=1 (...)`."""
    return " | ".join(f"{m.name}={m.count} ({m.first_line.replace('|', '/')})" for m in matches)


@dataclass(slots=True)
class LogWindow:
    """The part of a log file written since `mark()`."""

    path: Path
    offset: int = 0
    patterns: list[LogPattern] = field(default_factory=list)

    def mark(self) -> None:
        """Remember the current end of the file."""
        try:
            self.offset = self.path.stat().st_size
        except OSError:
            self.offset = 0

    def new_lines(self) -> list[str]:
        """Lines written since `mark()` (the newest `MAX_SCAN_BYTES` of them)."""
        try:
            size = self.path.stat().st_size
            start = max(self.offset, size - MAX_SCAN_BYTES) if size >= self.offset else 0
            with self.path.open("rb") as handle:
                handle.seek(start)
                data = handle.read(size - start)
        except OSError:
            return []
        return data.decode("utf-8", errors="replace").splitlines()

    def scan(self) -> list[LogMatch]:
        """The patterns matched by the lines written since `mark()`."""
        return scan_lines(self.new_lines(), self.patterns)
