"""Seeded values that validate against a JSON schema (the subset tools and response formats use).

Supported: `type` (object, array, string, integer, number, boolean, null, or a list of them),
`properties`/`required` (required properties always, optional ones with probability 1/2),
`enum`, `const`, `items`/`minItems`/`maxItems`, `minimum`/`maximum` and the exclusive forms,
`minLength`/`maxLength`, `format` (date, date-time, email, uri, uuid), `anyOf`/`oneOf`/`allOf`
(the first branch), and local `$ref` into `$defs`/`definitions`. A schema without a type gives
a string. `pattern` is not honoured.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

_WORDS = ("alpha", "beta", "gamma", "delta", "omega", "north", "river", "cloud", "stone", "maple")
_FORMATS = {
    "date": "2024-05-17",
    "date-time": "2024-05-17T08:30:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/item",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}
_MAX_DEPTH = 8


def generate(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A value valid against `schema` (within the supported subset)."""
    return _value(schema, schema, rng, 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < _MAX_DEPTH:
        ref = str(schema["$ref"])
        node: Any = root
        if ref.startswith("#"):
            for part in ref.lstrip("#").strip("/").split("/"):
                if part:
                    node = node.get(part, {}) if isinstance(node, Mapping) else {}
        schema = node if isinstance(node, Mapping) else {}
        seen += 1
    return schema


def _value(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            merged = {k: v for k, v in schema.items() if k != key}
            first = _resolve(branches[0], root)
            return _value({**merged, **first}, root, rng, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if depth >= _MAX_DEPTH and kind in ("object", "array"):
        kind = "null" if kind != "object" else "object"
    if kind == "object":
        return _object(schema, root, rng, depth)
    if kind == "array":
        return _array(schema, root, rng, depth)
    if kind == "integer":
        return _integer(schema, rng)
    if kind == "number":
        return _number(schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out: dict[str, Any] = {}
    if depth >= _MAX_DEPTH:
        properties = {k: v for k, v in properties.items() if k in required}
    for name, sub in properties.items():
        if name in required or rng.random() < 0.5:
            out[name] = _value(sub if isinstance(sub, Mapping) else {}, root, rng, depth + 1)
    return out


def _array(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> list[Any]:
    low = int(schema.get("minItems", 1))
    high = int(schema.get("maxItems", max(low, 3)))
    size = rng.randint(low, max(low, high))
    items = schema.get("items")
    item_schema: Mapping[str, Any] = items if isinstance(items, Mapping) else {}
    return [_value(item_schema, root, rng, depth + 1) for _ in range(size)]


def _integer(schema: Mapping[str, Any], rng: random.Random) -> int:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], int | float):
        low = int(schema["exclusiveMinimum"]) + 1
    if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], int | float):
        high = int(schema["exclusiveMaximum"]) - 1
    lo = int(low) if low is not None else (0 if high is None else int(high) - 100)
    hi = int(high) if high is not None else lo + 100
    return rng.randint(lo, max(lo, hi))


def _number(schema: Mapping[str, Any], rng: random.Random) -> float:
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 100.0)))
    value = round(rng.uniform(low, high), 2)
    # rounding or an exclusive bound could land on the edge: pull it back inside
    if (value <= low and "exclusiveMinimum" in schema) or value < low:
        value = (low + high) / 2
    if (value >= high and "exclusiveMaximum" in schema) or value > high:
        value = (low + high) / 2
    return value


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    min_len = int(schema.get("minLength", 0))
    max_len = int(schema.get("maxLength", max(min_len, 24)))
    text = rng.choice(_WORDS)
    while len(text) < min_len:
        text += " " + rng.choice(_WORDS)
    return text[:max_len] if len(text) > max_len else text
