"""Writes through the API: validation, property history and the lagging search index.

Callers hold ``state.lock`` for the whole request so a batch is applied atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sandbox.hubspot.errors import HubSpotError, invalid_properties
from sandbox.hubspot.imports import IMPORT_SOURCE
from sandbox.hubspot.model import CrmObject, HistoryEntry, SearchView
from sandbox.hubspot.properties import ObjectType
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import (
    InvalidValueError,
    Problem,
    ReferenceCheck,
    iso,
    normalize,
)

API_SOURCE = "INTEGRATION"


def validate(
    state: HubSpotState, kind: ObjectType, raw: Any, current: CrmObject | None
) -> dict[str, str | None]:
    """Normalised values of a ``properties`` input, or HubSpot's 400 listing every problem."""
    if not isinstance(raw, Mapping):
        raise HubSpotError(400, "Invalid input JSON: properties must be an object")
    check = state.reference_check(raw, current)
    problems: list[Problem] = []
    values: dict[str, str | None] = {}
    for name, value in raw.items():
        try:
            values[name] = _value(kind, name, value, check)
        except InvalidValueError as exc:
            problems.append(Problem(name, exc.error, exc.message))
    if current is None:
        problems += [
            Problem(name, "REQUIRED_PROPERTY", f"{name} is required")
            for name in kind.required
            if values.get(name) is None
        ]
    if problems:
        raise invalid_properties(problems, state.portal_id)
    return values


def _value(kind: ObjectType, name: str, value: object, check: ReferenceCheck) -> str | None:
    prop = kind.properties.get(name)
    if prop is None:
        raise InvalidValueError("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if prop.read_only:
        message = f'"{name}" is a read only property; its value cannot be set.'
        raise InvalidValueError("READ_ONLY_VALUE", message)
    return normalize(prop, value, check)


def create(
    state: HubSpotState,
    kind: ObjectType,
    values: Mapping[str, str | None],
    targets: Sequence[CrmObject],
    source_id: str,
) -> CrmObject:
    now = state.now_ms()
    props: dict[str, str | None] = {k: v for k, v in values.items() if v is not None}
    if kind.name == "deals":
        props.setdefault("pipeline", "default")  # HubSpot puts a deal without one there
    if kind.name == "tasks" and props.get("hs_task_status") == "COMPLETED":
        props["hs_task_completion_date"] = iso(now)  # HubSpot stamps it on completion
    obj = CrmObject(state.new_id(), kind.name, props, now)
    obj.history = {name: [(value, now, API_SOURCE, source_id)] for name, value in props.items()}
    for target in targets:
        state.link(obj, target)
    if state.index_lag_ms:
        obj.indexed = SearchView(None, now, False, now + state.index_lag_ms)
    state.add(obj)
    return obj


def update(
    state: HubSpotState, obj: CrmObject, values: Mapping[str, str | None], source_id: str
) -> None:
    """Apply changed values; an unchanged write leaves the object (and its dates) alone."""
    now = state.now_ms()
    changed = {name: value for name, value in values.items() if obj.props.get(name) != value}
    _derive_changes(obj, changed, now)
    if not changed:
        return
    _mark_stale(state, obj, now)
    for name, value in changed.items():
        history_of(obj, name).insert(0, (value, now, API_SOURCE, source_id))
        if value is None:
            obj.props.pop(name, None)
        else:
            obj.props[name] = value
    obj.updated_ms = now


def archive(state: HubSpotState, obj: CrmObject) -> None:
    if obj.archived_ms is not None:
        return
    now = state.now_ms()
    _mark_stale(state, obj, now)
    obj.archived_ms = obj.updated_ms = now


def history_of(obj: CrmObject, name: str) -> list[HistoryEntry]:
    """The stored history of a property, materialising the implicit "set at creation"."""
    if obj.history is None:
        obj.history = {}
    entries = obj.history.get(name)
    if entries is None:
        value = obj.props.get(name)
        entries = [] if value is None else [(value, obj.created_ms, IMPORT_SOURCE, None)]
        obj.history[name] = entries
    return entries


def _derive_changes(obj: CrmObject, changed: dict[str, str | None], now: int) -> None:
    if obj.type == "tasks" and "hs_task_status" in changed:
        if changed["hs_task_status"] == "COMPLETED":
            changed["hs_task_completion_date"] = iso(now)
        elif obj.props.get("hs_task_completion_date") is not None:
            changed["hs_task_completion_date"] = None


def _mark_stale(state: HubSpotState, obj: CrmObject, now: int) -> None:
    """Keep serving the pre-write version to search until the index catches up.

    https://developers.hubspot.com/docs/guides/api/crm/search#limitations: "It may take a
    few moments for newly created or updated CRM objects to appear in search results."
    """
    lag = state.index_lag_ms
    if not lag:
        return
    view = obj.indexed
    if view is None or now >= view.fresh_from_ms:
        archived = obj.archived_ms is not None
        obj.indexed = SearchView(dict(obj.props), obj.updated_ms, archived, now + lag)
    else:
        obj.indexed = replace(view, fresh_from_ms=now + lag)
