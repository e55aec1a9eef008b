"""The fake org's records and the DML rules Salesforce applies to them.

Rows are plain dicts keyed by canonical field names holding Python values (see
``schema.to_json_value``). Rows are replaced, never mutated, on update: a query cursor
holding the old row keeps serving the snapshot it started with, as a real cursor does.

Salesforce behaviours imitated here: system fields (CreatedDate, LastModifiedDate,
SystemModstamp, CreatedById...) are set by the server; Opportunity derives IsClosed,
IsWon, Probability and ForecastCategoryName from its stage; every create or change of
StageName, Amount, Probability or CloseDate writes an OpportunityHistory row; deletes
are soft (``IsDeleted``, visible to queryAll) until purged from the recycle bin, and
both kinds remain visible to Get Deleted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.salesforce.ids import is_valid_id, make_id, to_18
from sandbox.salesforce.schema import ALL_OBJECTS, ObjectSpec, find_object
from sandbox.salesforce.stages import find_stage

Row = dict[str, Any]

HISTORY_TRACKED = ("StageName", "Amount", "Probability", "CloseDate")
_SYSTEM_FIELDS = frozenset(
    {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate"}
    | {"LastModifiedById", "SystemModstamp"}
)
_REQUIRED = {
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "User": ("Username", "LastName", "Email", "Alias"),
    "Account": ("Name",),
    "Contact": ("LastName",),
    "UserRole": ("Name",),
}


class DmlError(Exception):
    """One record's failure, shaped like Salesforce's ``{statusCode, message, fields}``."""

    def __init__(self, status_code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status_code, self.message, self.fields = status_code, message, list(fields)

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


class RecordStore:
    """All records of the org, by object name then id. Thread-safe."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._rows: dict[str, dict[str, Row]] = {name: {} for name in ALL_OBJECTS}
        self._deleted_log: dict[str, dict[str, datetime]] = {name: {} for name in ALL_OBJECTS}
        self._sequence: Counter[str] = Counter()

    # ---------------------------------------------------------------- reading

    def rows(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        with self._lock:
            rows = list(self._rows[sobject].values())
        return rows if include_deleted else [row for row in rows if not row["IsDeleted"]]

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        if not is_valid_id(record_id):
            return None
        return self._rows.get(sobject, {}).get(to_18(record_id))

    def object_of(self, record_id: str) -> ObjectSpec | None:
        prefix = record_id[:3]
        return next((spec for spec in ALL_OBJECTS.values() if spec.key_prefix == prefix), None)

    def count(self, sobject: str, *, include_deleted: bool = False) -> int:
        return sum(1 for _ in self.rows(sobject, include_deleted=include_deleted))

    def updated_ids(self, sobject: str, start: datetime, end: datetime) -> list[str]:
        """Get Updated: live records whose SystemModstamp falls in [start, end)."""
        return [
            str(row["Id"])
            for row in self.rows(sobject, include_deleted=False)
            if start <= row["SystemModstamp"] < end
        ]

    def deleted_between(
        self, sobject: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """Get Deleted: soft-deleted and purged records deleted in [start, end)."""
        with self._lock:
            log = list(self._deleted_log[sobject].items())
        return sorted((rid, at) for rid, at in log if start <= at < end)

    # ---------------------------------------------------------------- writing

    def insert(
        self, sobject: str, values: Mapping[str, Any], *, user_id: str, audit: bool = False
    ) -> str:
        """Create a record from Python values; ``audit`` lets system dates be set (imports)."""
        spec = _spec(sobject)
        _check_writable(spec, values, creating=True, audit=audit)
        now = self.clock.now()
        with self._lock:
            self._sequence[spec.key_prefix] += 1
            record_id = make_id(spec.key_prefix, self._sequence[spec.key_prefix])
            row = _blank_row(spec, user_id)
            row.update(_stamps(row, now))
            row.update(_canonical(spec, values))
            row["Id"] = record_id
            if audit and "LastModifiedDate" not in values:
                row.update(_stamps(row, row["CreatedDate"], created=False))
            _check_required(spec, row)
            self._check_references(spec, row)
            _derive(spec, row)
            self._rows[spec.name][record_id] = row
            if spec.name == "Opportunity" and not audit:
                self._write_history(row, user_id)
        return record_id

    def bulk_load(
        self, sobject: str, rows: Iterable[Mapping[str, Any]], *, user_id: str
    ) -> list[str]:
        """Load trusted rows fast (the seeded org): canonical names, audit dates given.

        No validation beyond what Salesforce derives; the generator is the trusted source.
        CreatedDate defaults to now and the modification stamps to CreatedDate.
        """
        spec = _spec(sobject)
        template = _blank_row(spec, user_id)
        tracks_modification = "LastModifiedDate" in template
        now, ids = self.clock.now(), []
        with self._lock:
            table = self._rows[spec.name]
            for values in rows:
                self._sequence[spec.key_prefix] += 1
                record_id = make_id(spec.key_prefix, self._sequence[spec.key_prefix])
                row = {**template, **values, "Id": record_id}
                # A CRM never stamps a record in the future: activities the generator
                # places later today (in a rep's afternoon) exist only from "now".
                row["CreatedDate"] = min(row["CreatedDate"] or now, now)
                modified = min(row.get("LastModifiedDate") or row["CreatedDate"], now)
                if tracks_modification:
                    row["LastModifiedDate"] = modified
                row["SystemModstamp"] = min(row["SystemModstamp"] or modified, now)
                _derive(spec, row)
                table[record_id] = row
                ids.append(record_id)
        return ids

    def update(
        self, sobject: str, record_id: str, values: Mapping[str, Any], *, user_id: str
    ) -> None:
        spec = _spec(sobject)
        _check_writable(spec, values, creating=False, audit=False)
        with self._lock:
            current = self._live(spec, record_id)
            row = {**current, **_canonical(spec, values)}
            row.update(_stamps(row, self.clock.now(), created=False))
            row["LastModifiedById"] = user_id
            _check_required(spec, row)
            self._check_references(spec, row)
            _derive(spec, row, previous=current)
            self._rows[spec.name][row["Id"]] = row
            tracked = spec.name == "Opportunity"
            if tracked and any(row[name] != current[name] for name in HISTORY_TRACKED):
                self._write_history(row, user_id)

    def delete(self, sobject: str, record_id: str, *, user_id: str) -> None:
        spec = _spec(sobject)
        with self._lock:
            current = self._live(spec, record_id)
            now = self.clock.now()
            row = {**current, "IsDeleted": True, **_stamps(current, now, created=False)}
            row["LastModifiedById"] = user_id
            self._rows[spec.name][row["Id"]] = row
            self._deleted_log[spec.name][row["Id"]] = now

    def purge(self, sobject: str, record_id: str) -> None:
        """Empty a record from the recycle bin: gone from queryAll, still in Get Deleted."""
        with self._lock:
            row = self._rows[sobject].pop(to_18(record_id))
            self._deleted_log[sobject].setdefault(row["Id"], self.clock.now())

    def import_history(self, opportunity_id: str, values: Mapping[str, Any], at: datetime) -> str:
        """Add a past OpportunityHistory row (loaders replay a deal's life this way)."""
        row = {name: values.get(name) for name in (*HISTORY_TRACKED, "ForecastCategory")}
        row.update(OpportunityId=opportunity_id, CreatedDate=at)
        return self.insert(
            "OpportunityHistory", row, user_id=self._creator(opportunity_id), audit=True
        )

    # ---------------------------------------------------------------- state

    def snapshot(
        self,
    ) -> tuple[dict[str, dict[str, Row]], dict[str, dict[str, datetime]], Counter[str]]:
        with self._lock:
            rows = {name: dict(table) for name, table in self._rows.items()}
            log = {name: dict(table) for name, table in self._deleted_log.items()}
            return rows, log, Counter(self._sequence)

    def restore(
        self,
        snapshot: tuple[dict[str, dict[str, Row]], dict[str, dict[str, datetime]], Counter[str]],
    ) -> None:
        rows, log, sequence = snapshot
        with self._lock:
            self._rows = {name: dict(table) for name, table in rows.items()}
            self._deleted_log = {name: dict(table) for name, table in log.items()}
            self._sequence = Counter(sequence)

    # ---------------------------------------------------------------- internals

    def _live(self, spec: ObjectSpec, record_id: str) -> Row:
        row = self.get(spec.name, record_id)
        if row is None or row["IsDeleted"]:
            raise DmlError(
                "ENTITY_IS_DELETED" if row else "NOT_FOUND",
                "entity is deleted" if row else "The requested resource does not exist",
            )
        return dict(row)

    def _creator(self, record_id: str) -> str:
        row = self.get("Opportunity", record_id)
        return str(row["CreatedById"]) if row else ""

    def _check_references(self, spec: ObjectSpec, row: Row) -> None:
        for field in spec.fields:
            value = row.get(field.name)
            if field.type != "reference" or value is None or field.name in _SYSTEM_FIELDS:
                continue
            target = self.object_of(str(value))
            if not is_valid_id(str(value)) or target is None:
                raise DmlError(
                    "MALFORMED_ID",
                    f"{field.label}: id value of incorrect type: {value}",
                    [field.name],
                )
            if self.get(target.name, str(value)) is None:
                raise DmlError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field.name]
                )
            row[field.name] = to_18(str(value))

    def _write_history(self, opportunity: Row, user_id: str) -> None:
        history = _spec("OpportunityHistory")
        self._sequence[history.key_prefix] += 1
        history_id = make_id(history.key_prefix, self._sequence[history.key_prefix])
        now = opportunity["SystemModstamp"]
        row = _blank_row(history, user_id)
        row.update({name: opportunity[name] for name in HISTORY_TRACKED})
        row.update(
            Id=history_id,
            OpportunityId=opportunity["Id"],
            CreatedDate=now,
            SystemModstamp=now,
            ForecastCategory=opportunity.get("ForecastCategoryName"),
        )
        self._rows[history.name][history_id] = row


def _blank_row(spec: ObjectSpec, user_id: str) -> Row:
    """Every field of ``spec`` empty, but the flags and owners the server always sets."""
    row: Row = {field.name: None for field in spec.fields}
    row["IsDeleted"] = False
    for name in ("CreatedById", "LastModifiedById"):
        if name in row:
            row[name] = user_id
    return row


def _stamps(row: Row, moment: datetime, *, created: bool = True) -> Row:
    """The system dates an object has (history rows have no LastModifiedDate)."""
    names = ("CreatedDate", "LastModifiedDate", "SystemModstamp")[0 if created else 1 :]
    return {name: moment for name in names if name in row}


def _spec(sobject: str) -> ObjectSpec:
    spec = find_object(sobject)
    if spec is None:
        raise DmlError("NOT_FOUND", f"The requested resource does not exist: {sobject}")
    return spec


def _canonical(spec: ObjectSpec, values: Mapping[str, Any]) -> Row:
    out: Row = {}
    for name, value in values.items():
        field = spec.field(name)
        if field is None:
            raise DmlError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name]
            )
        out[field.name] = value
    return out


def _check_writable(
    spec: ObjectSpec, values: Mapping[str, Any], *, creating: bool, audit: bool
) -> None:
    for name in values:
        field = spec.field(name)
        if field is None:
            raise DmlError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name]
            )
        allowed = field.createable if creating else field.updateable
        audit_field = audit and field.name in _SYSTEM_FIELDS - {"Id", "IsDeleted"}
        if not allowed and not audit_field and not (audit and field.name == "OpportunityId"):
            raise DmlError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {field.name}. Please check the security "
                "settings of this field and verify that it is read/write for your profile.",
                [field.name],
            )


def _check_required(spec: ObjectSpec, row: Row) -> None:
    missing = [name for name in _REQUIRED.get(spec.name, ()) if row.get(name) in (None, "")]
    if missing:
        raise DmlError(
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def _derive(spec: ObjectSpec, row: Row, previous: Row | None = None) -> None:
    """Fields Salesforce computes: stage-driven opportunity fields, task closure, names."""
    if spec.name == "Opportunity":
        stage = find_stage(str(row["StageName"]))
        if stage is None:
            raise DmlError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Stage: bad value for restricted picklist field: {row['StageName']}",
                ["StageName"],
            )
        stage_changed = previous is None or previous["StageName"] != row["StageName"]
        if row.get("Probability") is None or (
            stage_changed and previous is not None and row["Probability"] == previous["Probability"]
        ):
            row["Probability"] = stage.probability
        row.update(
            IsClosed=stage.is_closed,
            IsWon=stage.is_won,
            ForecastCategoryName=stage.forecast_category,
        )
    elif spec.name == "Task":
        row["Status"] = row.get("Status") or "Not Started"
        row["Priority"] = row.get("Priority") or "Normal"
        row["IsClosed"] = row["Status"] == "Completed"
        if row["IsClosed"] and row.get("CompletedDateTime") is None:
            row["CompletedDateTime"] = row["LastModifiedDate"]
    elif spec.name in ("User", "Contact") and spec.field("Name") is not None:
        row["Name"] = " ".join(part for part in (row.get("FirstName"), row.get("LastName")) if part)
