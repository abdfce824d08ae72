"""The one CSV codec of the run directory: cells to typed values and back.

acs-bench writes `-1` for "no data". This module is the only place where that sentinel becomes
`None` and back, and it does so per column: a column declared `sentinel=False` (a request
parameter such as `Top_K`, where `-1` means "disabled") keeps `-1` as a value and writes
"no value" as an empty cell.
"""

from __future__ import annotations

import csv
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

MISSING = "-1"
"""What a sentinel column holds when there is no data."""
TRUE_WORDS = frozenset({"true", "1", "yes", "pass", "passed"})
FALSE_WORDS = frozenset({"false", "0", "no", "fail", "failed"})

Kind = Literal["text", "int", "float", "bool"]


class Column(NamedTuple):
    """One CSV column: its header, the model field it fills, and whether `-1` means "no data"."""

    header: str
    field: str
    sentinel: bool = True


def encode(value: object, *, sentinel: bool = True) -> str:
    """A typed value as a cell: None/NaN -> `-1` (or empty without sentinel), bools as 1/0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING if sentinel else ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def decode_float(cell: str | None, *, sentinel: bool = True) -> float | None:
    """A cell as a float; empty, unparsable, NaN (and `-1` for sentinel columns) are None."""
    text = (cell or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or (sentinel and value == -1):
        return None
    return value


def decode_int(cell: str | None, *, sentinel: bool = True) -> int | None:
    """A cell as an int (`4` and `4.0` alike); a fractional value is None."""
    value = decode_float(cell, sentinel=sentinel)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def decode_bool(cell: str | None, *, sentinel: bool = True) -> bool | None:
    """`true/false/1/0/yes/no/pass/fail` (any case) as a bool; anything else is None."""
    del sentinel  # `-1` is neither a true nor a false word
    lowered = (cell or "").strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    return None


def decode_text(cell: str | None, *, sentinel: bool = True) -> str:
    """A cell as text, stripped; a sentinel column's `-1` is the empty string."""
    text = (cell or "").strip()
    return "" if sentinel and text in (MISSING, "-1.0") else text


def label(value: float | int | str | None) -> str:
    """A value as a Prometheus label: integral numbers lose their `.0`, None is empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


_DECODERS = {"text": decode_text, "int": decode_int, "float": decode_float, "bool": decode_bool}


def _kind(annotation: Any) -> Kind:
    """The cell kind of a field annotation (`int | None` -> int); only scalar types are cells."""
    options = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    for python_type, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "text")):
        if python_type in options:
            return typing.cast(Kind, kind)
    raise TypeError(f"no CSV cell kind for {annotation!r}")


RowT = TypeVar("RowT", bound="CsvRow")


class CsvRow(BaseModel):
    """A model written as one CSV row; subclasses list their `COLUMNS` in file order."""

    model_config = ConfigDict(extra="ignore")
    COLUMNS: ClassVar[tuple[Column, ...]] = ()

    @classmethod
    def header(cls) -> list[str]:
        """The column headers, in file order."""
        return [column.header for column in cls.COLUMNS]

    @classmethod
    def from_cells(cls: type[RowT], cells: Mapping[str, str]) -> RowT:
        """Build a row from cells keyed by header; absent columns take the field default."""
        values: dict[str, Any] = {}
        for column in cls.COLUMNS:
            if column.header not in cells:
                continue
            kind = _kind(cls.model_fields[column.field].annotation)
            decoded = _DECODERS[kind](cells[column.header], sentinel=column.sentinel)
            if decoded is not None:
                values[column.field] = decoded
        values.update(cls.extra_fields(cells))
        return cls.model_validate(values)

    @classmethod
    def extra_fields(cls, cells: Mapping[str, str]) -> dict[str, Any]:
        """Fields a subclass fills from cells that `COLUMNS` does not list (none by default)."""
        del cells
        return {}

    def to_cells(self) -> dict[str, str]:
        """The row as cells keyed by header, in file order."""
        return {
            column.header: encode(getattr(self, column.field), sentinel=column.sentinel)
            for column in self.COLUMNS
        }


def read_cells(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file keyed by header name; raises OSError, csv.Error or UnicodeDecodeError."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {str(key).strip(): (value or "") for key, value in row.items() if key is not None}
            for row in csv.DictReader(handle)
        ]


def read_rows(path: Path, model: type[RowT]) -> list[RowT]:
    """Every row of `path` as `model`."""
    return [model.from_cells(cells) for cells in read_cells(path)]


def append_cells(path: Path, cells: Mapping[str, str], missing: str = MISSING) -> None:
    """Append one row, writing the header first when the file is new or empty.

    An existing file keeps its header; a column it has that `cells` lacks gets `missing`, and a
    cell for a column it lacks is an error (the file would no longer parse). The file is
    flushed and closed per row, so a crash later leaves every finished row on disk.
    """
    if path.exists() and path.stat().st_size > 0:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None) or []
        unknown = [key for key in cells if key not in header]
        if unknown:
            raise ValueError(f"{path}: row has columns {unknown} that the existing header lacks")
        new = False
    else:
        header = list(cells)
        new = True
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(header)
        writer.writerow([cells.get(column, missing) for column in header])


def write_cells(path: Path, header: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """Write a whole CSV file: `header`, then each row's cells in header order."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for cells in rows:
            writer.writerow([cells.get(column, MISSING) for column in header])
