"""The metric catalogue, read off the metric models themselves.

Each metric of :data:`rules.metrics.MetricSpec` is a pydantic model; its JSON schema
names its parameters (type, allowed values, default, bounds), its fixed traits (subject,
shape) and its docstring; which standard bases fit it is asked of the rule document's
own check. So a metric added to the union appears here with no change to the API.

The value format (how a UI shows the number) is not part of the models: a metric may
declare it as ``json_schema_extra={"x-value-format": ...}``; until they do,
:data:`_VALUE_FORMATS` says it, and an unknown metric reads as a plain number.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel

from rules.documents import METRIC_LEVELS, ValueFormat, _check_basis
from rules.metrics import MetricSpec
from rules.periods import PeriodUnit
from rules.standards import Basis, Standard

#: Traits every metric model carries with a fixed default: not parameters.
FIXED = ("metric", "subject_kind", "shape")

_VALUE_FORMATS: dict[str, ValueFormat] = {
    "win_rate": "percent",
    "stage_duration": "days",
    "qualification_completeness": "percent",
    "quota_pace": "percent",
    "days_since_activity": "days",
    "days_in_stage": "days",
}


class Parameter(BaseModel):
    """One parameter of a metric, enough to draw its form field."""

    name: str
    type: str  # JSON schema type: string, integer, number, boolean, array
    items: str | None  # an array's item type
    allowed: list[Any] | None  # the values allowed (of each item, for an array)
    default: Any
    required: bool
    minimum: float | None
    maximum: float | None
    min_items: int | None
    description: str | None


class MetricView(BaseModel):
    """A metric as a rule form needs it; ``json_schema`` is the ``metric`` object of a
    rule document for this metric."""

    name: str
    summary: str
    description: str
    subject: str  # rep or deal
    shape: str  # rate (what happened in a period) or snapshot (the state at its end)
    level: str | None  # activity, objective or result: where it sits in the framework
    value_format: str
    bases: list[str]  # the standard bases a rule on this metric may use
    period_units: list[str]
    parameters: list[Parameter]
    json_schema: dict[str, Any]


def metric_models() -> tuple[type[BaseModel], ...]:
    """The models of the :data:`~rules.metrics.MetricSpec` union, in its order."""
    union = get_args(MetricSpec)[0]
    return tuple(get_args(union))


@cache
def catalogue() -> dict[str, MetricView]:
    """Every metric by name (computed once: the models do not change while running)."""
    views = [_view(model) for model in metric_models()]
    return {view.name: view for view in sorted(views, key=lambda view: view.name)}


@cache
def models_by_name() -> dict[str, type[BaseModel]]:
    return {_name(model.model_json_schema()): model for model in metric_models()}


def _name(schema: dict[str, Any]) -> str:
    metric = schema["properties"]["metric"]
    return str(metric.get("const", metric.get("default")))


def _view(model: type[BaseModel]) -> MetricView:
    schema = model.model_json_schema()
    properties = schema["properties"]
    name, doc = _name(schema), str(schema.get("description", ""))
    required = set(schema.get("required", ()))
    return MetricView(
        name=name,
        summary=_first_sentence(_plain(doc.split("\n\n", maxsplit=1)[0])),
        description=_plain(doc),
        subject=str(properties["subject_kind"]["default"]),
        shape=str(properties["shape"]["default"]),
        level=_level(name),
        value_format=str(schema.get("x-value-format", _VALUE_FORMATS.get(name, "number"))),
        bases=_bases(model),
        period_units=[unit.value for unit in PeriodUnit],
        parameters=[
            _parameter(key, _resolved(schema, value), key in required)
            for key, value in properties.items()
            if key not in FIXED
        ],
        json_schema=schema,
    )


def _parameter(name: str, schema: dict[str, Any], required: bool) -> Parameter:
    items = schema.get("items") or {}
    allowed = schema.get("enum") or items.get("enum")
    if allowed is None and "const" in schema:
        allowed = [schema["const"]]
    description = schema.get("description")
    return Parameter(
        name=name,
        type=str(schema.get("type", "string")),
        items=str(items["type"]) if "type" in items else None,
        allowed=list(allowed) if allowed is not None else None,
        default=schema.get("default"),
        required=required,
        minimum=schema.get("minimum", schema.get("exclusiveMinimum")),
        maximum=schema.get("maximum", schema.get("exclusiveMaximum")),
        min_items=schema.get("minItems"),
        description=_plain(description) if description else None,
    )


def _resolved(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref`` (to the root's ``$defs``) and its items' replaced."""
    if "$ref" in schema:
        target = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(schema.get("items"), dict):
        schema = {**schema, "items": _resolved(root, schema["items"])}
    return schema


def _bases(model: type[BaseModel]) -> list[str]:
    """The bases the rule document accepts for this metric (asked of its own check, with
    the metric's defaults: which bases fit depends on the metric, not its parameters)."""
    metric: Any = model.model_construct()
    fits = []
    for basis in Basis:
        try:
            _check_basis(Standard(basis=basis, min=1.0), metric)
        except ValueError:
            continue
        fits.append(basis.value)
    return fits


def _level(name: str) -> str | None:
    level = METRIC_LEVELS.get(name)
    return None if level is None else level.value


def _plain(text: str) -> str:
    """Docstring text on one line, with reStructuredText's double backticks made single."""
    text = re.sub(r":class:`~?([\w.]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return " ".join(text.replace("``", "`").split())


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=\.)\s+(?=[A-Z(`])", text, maxsplit=1)[0]
