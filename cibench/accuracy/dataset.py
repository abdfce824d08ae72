"""Find a GPQA-shaped CSV (path, URL download into a cache, or the cache) and read its rows.

GPQA itself is never shipped with cibench: its licence asks users not to publish examples, so the
operator supplies the file (see docs/accuracy.md); tests use a synthetic CSV of the same shape.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from cibench.accuracy.gpqa import GpqaRow
from cibench.config.accuracy import AccuracyProfile
from cibench.errors import DatasetError

REQUIRED_COLUMNS = (
    "Question",
    "Correct Answer",
    "Incorrect Answer 1",
    "Incorrect Answer 2",
    "Incorrect Answer 3",
)
SIMPLE_EVALS_URL = "https://openaipublic.blob.core.windows.net/simple-evals/gpqa_{variant}.csv"
HOW_TO_GET = (
    "GPQA is gated and must not be committed: download gpqa_{variant}.csv once (simple-evals "
    "publishes it at " + SIMPLE_EVALS_URL + ") and put it there, or set dataset_path / "
    "dataset_url in the accuracy profile. See docs/accuracy.md."
)


@dataclass(frozen=True, slots=True)
class DatasetSource:
    """Where the rows came from: the local file read and the URL it was downloaded from, if any."""

    path: Path
    url: str | None = None


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/cibench`, else `~/.cache/cibench`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cibench"


def _resolve(raw: str, configs_root: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else configs_root / path


def cache_dir_for(profile: AccuracyProfile, configs_root: Path) -> Path:
    """The profile's cache directory (relative to the configs directory), else the default."""
    return _resolve(profile.cache_dir, configs_root) if profile.cache_dir else default_cache_dir()


def parse_rows(text: str, where: str) -> list[GpqaRow]:
    """Rows of a GPQA-shaped CSV text; `where` names the file in error messages."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise DatasetError(
            f"{where}: missing column(s) {', '.join(repr(c) for c in missing)}; a GPQA CSV needs "
            f"{', '.join(REQUIRED_COLUMNS)} (got {', '.join(repr(h) for h in header) or 'none'}). "
            "Use the simple-evals gpqa_<variant>.csv file, or regenerate a synthetic one with "
            "`python -m cibench.accuracy.synthetic`."
        )
    rows: list[GpqaRow] = []
    try:
        for record in reader:
            values = [record.get(column) for column in REQUIRED_COLUMNS]
            if any(value is None for value in values):
                raise DatasetError(
                    f"{where}: line {reader.line_num}: the row has fewer fields than the header "
                    f"({len(header)} columns). Fix or remove that row."
                )
            question, correct, wrong1, wrong2, wrong3 = (str(value) for value in values)
            rows.append(GpqaRow(question, correct, (wrong1, wrong2, wrong3)))
    except csv.Error as exc:
        raise DatasetError(f"{where}: line {reader.line_num}: not valid CSV ({exc}).") from exc
    if not rows:
        raise DatasetError(f"{where}: the CSV has a header but no questions.")
    return rows


def _read_file(path: Path) -> list[GpqaRow]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason}); is it really a CSV?") from exc
    return parse_rows(text, str(path))


def _download(url: str, target: Path, timeout_seconds: float) -> list[GpqaRow]:
    """Fetch `url`, check it parses, then move it into `target` so a bad download is not cached."""
    try:
        response = httpx.get(url, timeout=timeout_seconds, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise DatasetError(
            f"dataset_url {url}: download failed ({type(exc).__name__}: {exc}). Check the URL "
            f"and the network, or put the file at {target} and run again."
        ) from exc
    try:
        text = response.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"dataset_url {url}: the response is not UTF-8 text.") from exc
    rows = parse_rows(text, f"dataset_url {url}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as handle:
        handle.write(response.content)
    Path(handle.name).replace(target)
    return rows


def load_dataset(
    profile: AccuracyProfile, configs_root: Path, download_timeout_seconds: float = 60.0
) -> tuple[list[GpqaRow], DatasetSource]:
    """Read the profile's dataset: `dataset_path`, else `dataset_url` (cached), else the cache.

    Relative paths are resolved against the configs directory. A URL download is stored in the
    cache directory under the URL's file name and reused by later runs without the network.
    """
    cache_dir = cache_dir_for(profile, configs_root)
    how = HOW_TO_GET.format(variant=profile.variant)
    if profile.dataset_path:
        path = _resolve(profile.dataset_path, configs_root)
        if path.is_file():
            return _read_file(path), DatasetSource(path)
        if not profile.dataset_url:
            raise DatasetError(
                f"GPQA dataset not found: dataset_path {profile.dataset_path!r} -> {path} does "
                f"not exist. {how}"
            )
    if profile.dataset_url:
        name = Path(urlsplit(profile.dataset_url).path).name or f"gpqa_{profile.variant}.csv"
        cached = cache_dir / name
        if cached.is_file():
            return _read_file(cached), DatasetSource(cached, profile.dataset_url)
        rows = _download(profile.dataset_url, cached, download_timeout_seconds)
        return rows, DatasetSource(cached, profile.dataset_url)
    cached = cache_dir / f"gpqa_{profile.variant}.csv"
    if cached.is_file():
        return _read_file(cached), DatasetSource(cached)
    raise DatasetError(
        f"GPQA dataset not found: the accuracy profile sets neither dataset_path nor dataset_url "
        f"and the cache has no {cached}. {how}"
    )
