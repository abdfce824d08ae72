"""The response JSON schemas kept in `cibench/functional/schemas/`, loaded once and applied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, get_args

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SchemaName = Literal[
    "chat_completion",
    "chat_chunk",
    "completion",
    "completion_chunk",
    "error_nested",
    "error_flat",
    "models_list",
]
SCHEMA_NAMES: tuple[SchemaName, ...] = get_args(SchemaName)
_MAX_ERRORS = 3


def _read(name: str) -> dict[str, Any]:
    text = (
        resources.files("cibench.functional")
        .joinpath("schemas")
        .joinpath(f"{name}.json")
        .read_text(encoding="utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """One validator per response schema, sharing `common.json` through a registry."""

    validators: dict[str, Draft202012Validator]

    @classmethod
    def load(cls) -> SchemaSet:
        """Read every schema file of the package (a few KB; call once per session)."""
        documents = {name: _read(name) for name in ("common", *SCHEMA_NAMES)}
        registry: Registry[Any] = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc)) for doc in documents.values()
        )
        validators: dict[str, Draft202012Validator] = {
            name: Draft202012Validator(documents[name], registry=registry) for name in SCHEMA_NAMES
        }
        return cls(validators)

    def problems(self, name: SchemaName, instance: Any, where: str = "body") -> list[str]:
        """Up to three readable schema violations of `instance`, empty when it conforms."""
        errors = sorted(
            self.validators[name].iter_errors(instance), key=lambda e: list(e.absolute_path)
        )
        out = []
        for error in errors[:_MAX_ERRORS]:
            path = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
            )
            out.append(f"{where}{path}: {error.message} (schema {name})")
        if len(errors) > _MAX_ERRORS:
            out.append(f"{where}: {len(errors) - _MAX_ERRORS} more violations of schema {name}")
        return out

    def conforms(self, name: SchemaName, instance: Any) -> bool:
        """Whether `instance` validates against schema `name`."""
        return bool(self.validators[name].is_valid(instance))
