"""Run a Grafana dashboard's queries against a Prometheus HTTP API the way Grafana does.

Template variables are resolved in declaration order: `label_values(metric{selector}, label)`
through `/api/v1/series` (the selector may use variables resolved before it), custom and textbox
variables take their default. Multi-value variables expand to `(a|b)` as Grafana formats them for
Prometheus. Each panel target then runs as an instant query (`instant: true`) or as a range query
over the dashboard's window. Used by the dashboard test against a real Prometheus and by
`benchmarks/dashboard_picture.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cibench.errors import CibenchError

LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
DEFAULT_STEP_S = 15.0
MAX_DATA_POINTS = 1000


@dataclass(frozen=True, slots=True)
class PanelTarget:
    """One query of one panel, as written in the dashboard JSON."""

    panel: str
    panel_type: str
    ref_id: str
    expr: str
    instant: bool
    legend: str


@dataclass(frozen=True, slots=True)
class Series:
    """One result series: its labels and its (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def last(self) -> float:
        """The newest value."""
        return self.points[-1][1]


def panel_targets(dashboard: Mapping[str, Any]) -> list[PanelTarget]:
    """Every query of every panel (rows hold none), in panel order."""
    found = []
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            found.append(
                PanelTarget(
                    panel=str(panel.get("title", "")),
                    panel_type=str(panel.get("type", "")),
                    ref_id=str(target.get("refId", "")),
                    expr=str(target["expr"]),
                    instant=bool(target.get("instant", False)),
                    legend=str(target.get("legendFormat", "")),
                )
            )
    return found


def format_values(values: Sequence[str]) -> str:
    """A variable's values as Grafana writes them into PromQL: one as is, several as `(a|b)`."""
    escaped = [re.sub(r"([\\.+*?()\[\]{}|^$])", r"\\\\\1", value) for value in values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def expand(text: str, values: Mapping[str, str]) -> str:
    """`text` with `$name` / `${name}` replaced; an unknown variable is an error naming it."""

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in values:
            raise CibenchError(f"dashboard query uses ${name}, which no variable defines: {text}")
        return values[name]

    return VARIABLE.sub(replace, text)


class PrometheusApi:
    """The few calls of Prometheus' HTTP API a dashboard needs; errors name the URL and query."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _get(self, path: str, params: Mapping[str, str | float]) -> Any:
        try:
            answer = self._client.get(path, params=dict(params))
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CibenchError(f"Prometheus {self.url}{path} {dict(params)}: {exc}") from exc
        if body.get("status") != "success":
            raise CibenchError(
                f"Prometheus {self.url}{path} {dict(params)}: {body.get('errorType')} "
                f"{body.get('error')}"
            )
        return body["data"]

    def series_label_values(self, selector: str, label: str, start: float, end: float) -> list[str]:
        """Sorted values of `label` on the series matching `selector` (Grafana's label_values)."""
        data = self._get("/api/v1/series", {"match[]": selector, "start": start, "end": end})
        return sorted({str(item[label]) for item in data if label in item})

    def instant(self, expr: str, at: float) -> list[Series]:
        """An instant query at `at`."""
        data = self._get("/api/v1/query", {"query": expr, "time": at})
        return _series(data)

    def range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """A range query from `start` to `end` every `step` seconds."""
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step}
        )
        return _series(data)

    def run(self, target: PanelTarget, expr: str, start: float, end: float) -> list[Series]:
        """Run an expanded target as its panel does (instant at `end`, else range).

        Range queries use Grafana's step for a panel ~`MAX_DATA_POINTS` wide, with the start
        moved so that `end` itself is one of the evaluated points.
        """
        if target.instant:
            return self.instant(expr, end)
        step = max(DEFAULT_STEP_S, math.ceil((end - start) / MAX_DATA_POINTS))
        points = math.ceil((end - start) / step)
        return self.range(expr, end - points * step, end, step)


def _series(data: Mapping[str, Any]) -> list[Series]:
    kind = data.get("resultType")
    result = data.get("result", [])
    if kind == "vector":
        return [
            Series(dict(item["metric"]), [(float(item["value"][0]), float(item["value"][1]))])
            for item in result
        ]
    if kind == "matrix":
        return [
            Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
            for item in result
        ]
    if kind == "scalar":
        return [Series({}, [(float(result[0]), float(result[1]))])]
    raise CibenchError(f"Prometheus answered a {kind} result; a dashboard needs vectors")


def resolve_variables(
    dashboard: Mapping[str, Any], api: PrometheusApi, start: float, end: float
) -> dict[str, list[str]]:
    """Every template variable's values as Grafana would offer them (All selected)."""
    resolved: dict[str, list[str]] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = str(variable["name"])
        if variable.get("type") == "query":
            match = LABEL_VALUES.match(str(variable["query"]).strip())
            if match is None:
                raise CibenchError(f"variable {name}: only label_values(...) queries are run")
            selector = expand(match["selector"], substitutions(dashboard, resolved))
            resolved[name] = api.series_label_values(selector, match["label"], start, end)
        else:  # custom, textbox, datasource: their default
            current = variable.get("current") or {}
            resolved[name] = [str(current.get("value", current.get("text", variable["query"])))]
    return resolved


def substitutions(
    dashboard: Mapping[str, Any], resolved: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Resolved values as PromQL text: query variables as escaped `(a|b)`, the rest verbatim."""
    queried = {
        str(variable["name"])
        for variable in dashboard.get("templating", {}).get("list", [])
        if variable.get("type") == "query"
    }
    return {
        name: format_values(values) if name in queried else ",".join(values)
        for name, values in resolved.items()
    }
