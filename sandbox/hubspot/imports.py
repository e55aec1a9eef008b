"""Bulk loading of CRM objects with their past, the way a HubSpot import would.

A benchmark org holds ~150,000 engagements, so the per-object path is kept short:
strings and already-canonical timestamps are stored as given, and the validation of
repeated reference values (owner ids, stages) is remembered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sandbox.hubspot.model import CrmObject, HistoryEntry
from sandbox.hubspot.properties import (
    ASSOCIATION_TYPES,
    OBJECT_TYPES,
    Kind,
    ObjectType,
    PropertyDef,
)
from sandbox.hubspot.values import InvalidValueError, ReferenceCheck, normalize, to_ms

IMPORT_SOURCE = "CRM_UI"  # imported history reads as if reps had typed it in HubSpot
_CACHED_KINDS = frozenset({Kind.OWNER, Kind.PIPELINE, Kind.STAGE, Kind.ENUM, Kind.BOOL})
# How a property's raw value may skip validation: stored as is, if canonical, if digits.
_AS_IS, _IF_ISO, _IF_DIGITS, _CHECK = 0, 1, 2, 3
_FAST = {Kind.STRING: _AS_IS, Kind.DATETIME: _IF_ISO, Kind.NUMBER: _IF_DIGITS}

History = Mapping[str, Sequence[tuple[str | None, datetime]]]


class Portal(Protocol):
    """What an import needs of the portal it loads into (:class:`HubSpotState` has it);
    named here so this module need not import the state that imports it."""

    objects: dict[str, dict[int, CrmObject]]

    def new_id(self) -> int: ...

    def add(self, obj: CrmObject) -> None: ...

    def reference_check(
        self, changes: Mapping[str, object], current: CrmObject | None = None
    ) -> ReferenceCheck: ...


class Importer:
    def __init__(self, state: Portal) -> None:
        self.state = state
        self._valid: dict[tuple[str, str, str], str | None] = {}
        self._paths = {
            kind.name: {
                name: _FAST.get(prop.kind, _CHECK)
                for name, prop in kind.properties.items()
                if not prop.read_only
            }
            for kind in OBJECT_TYPES.values()
        }
        self._links = {
            name: frozenset(to for frm, to in ASSOCIATION_TYPES if frm == name)
            for name in OBJECT_TYPES
        }

    def forget(self) -> None:
        """Owners or pipelines changed: reference values must be checked again."""
        self._valid.clear()

    def import_object(
        self,
        object_type: str,
        properties: Mapping[str, str | None],
        *,
        created_at: datetime,
        updated_at: datetime | None,
        history: History | None,
        associations: Mapping[str, Sequence[str]] | None,
        archived_at: datetime | None,
    ) -> str:
        kind = OBJECT_TYPES.get(object_type)
        if kind is None:
            raise ValueError(f"unknown object type {object_type!r}")
        pipeline = properties.get("pipeline") or "default"
        props = self._values(kind, properties, pipeline)
        obj = CrmObject(self.state.new_id(), kind.name, props, to_ms(created_at))
        if updated_at is not None:
            obj.updated_ms = to_ms(updated_at)
        if history:
            obj.history = self._history(kind, obj, history, pipeline)
        if associations:
            self._associate(kind, obj, associations)
        if archived_at is not None:
            obj.archived_ms = to_ms(archived_at)
        self.state.add(obj)
        return str(obj.id)

    def _associate(
        self, kind: ObjectType, obj: CrmObject, associations: Mapping[str, Sequence[str]]
    ) -> None:
        """Link a new object both ways (its own side starts empty, so no merging)."""
        obj.assoc = {}
        for to_type, to_ids in associations.items():
            mine = obj.assoc.setdefault(to_type, {})
            for to_id in to_ids:
                target = self._target(kind, to_type, to_id)
                mine[target.id] = None
                if target.assoc is None:
                    target.assoc = {}
                target.assoc.setdefault(kind.name, {})[obj.id] = None

    def _values(
        self, kind: ObjectType, properties: Mapping[str, str | None], pipeline: str
    ) -> dict[str, str | None]:
        """The hot loop of a bulk load: common values are stored without a function call."""
        paths, valid, props = self._paths[kind.name], self._valid, dict[str, str | None]()
        for name, raw in properties.items():
            path = paths.get(name)
            if path is None or not raw:  # unknown or read-only names fail in _value
                value = self._value(kind, kind.properties.get(name), name, raw, pipeline)
            elif (
                path == _AS_IS
                or (path == _IF_ISO and len(raw) == 24 and raw[10] == "T" and raw[-1] == "Z")
                or (path == _IF_DIGITS and raw.isdigit())
            ):
                value = raw
            elif (value := valid.get((name, raw, pipeline))) is None:
                value = self._value(kind, kind.properties.get(name), name, raw, pipeline)
            if value is not None:
                props[name] = value
        return props

    def _value(
        self, kind: ObjectType, prop: PropertyDef | None, name: str, raw: str | None, pipeline: str
    ) -> str | None:
        if prop is None or prop.read_only:
            raise ValueError(f"{kind.name}: property {name!r} does not exist or is read-only")
        if not raw:
            return None
        if prop.kind is Kind.STRING:
            return raw
        if prop.kind is Kind.DATETIME and len(raw) == 24 and raw[10] == "T" and raw[-1] == "Z":
            return raw
        key = (name, raw, pipeline)
        if key in self._valid:
            return self._valid[key]
        try:
            value = normalize(prop, raw, self.state.reference_check({"pipeline": pipeline}))
        except InvalidValueError as exc:
            raise ValueError(f"{kind.name}.{name}: {exc.message}") from None
        if prop.kind in _CACHED_KINDS:
            self._valid[key] = value
        return value

    def _history(
        self, kind: ObjectType, obj: CrmObject, history: History, pipeline: str
    ) -> dict[str, list[HistoryEntry]]:
        """Entries newest first; the current value tops the list if the past ends elsewhere."""
        result: dict[str, list[HistoryEntry]] = {}
        for name, entries in history.items():
            if not entries:
                continue  # nothing recorded: the value counts as set at creation
            prop = kind.properties.get(name)
            rows: list[HistoryEntry] = [
                (self._value(kind, prop, name, value, pipeline), to_ms(at), IMPORT_SOURCE, None)
                for value, at in entries
            ]
            # Newest first; of two entries at the same moment the later-listed one is newer.
            order = sorted(range(len(rows)), key=lambda i: (rows[i][1], i), reverse=True)
            rows = [rows[i] for i in order]
            current = obj.props.get(name)
            if not rows or rows[0][0] != current:
                rows.insert(0, (current, obj.updated_ms, IMPORT_SOURCE, None))
            result[name] = rows
        return result

    def _target(self, kind: ObjectType, to_type: str, to_id: str) -> CrmObject:
        if to_type not in self._links[kind.name]:
            raise ValueError(f"no default association from {kind.name} to {to_type}")
        target = self.state.objects[to_type].get(int(to_id))
        if target is None:
            raise ValueError(f"{to_type} {to_id} does not exist (import it first)")
        return target
