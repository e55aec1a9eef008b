"""Loading data in the Salesforce CLI's data-tree format (``sf data import tree``).

A tree file is ``{"records": [{"attributes": {"type", "referenceId"}, field: value...}]}``;
a value ``"@SomeRef"`` points at the record imported earlier with that ``referenceId``.
A plan is a list of ``{"sobject", "files": [...]}`` steps run in order. The admin endpoint
accepts ``{"records": [...]}`` (one file), ``{"documents": [file, ...]}``, or
``{"plan": [...], "files": {"name.json": file}}``.

As with "Set Audit Fields upon Record Creation", system fields such as CreatedDate may
be given. Field names are matched case-insensitively and values are coerced the way
the CLI's files need (amounts as strings, datetimes given for date fields).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sandbox.http import HttpError, Response
from sandbox.salesforce.record_store import DmlError
from sandbox.salesforce.schema import FieldSpec, ObjectSpec, find_object
from sandbox.salesforce.state import SalesforceState


def import_tree(state: SalesforceState, payload: Any) -> Response:
    documents = _documents(payload)
    references: dict[str, str] = {}
    results: list[dict[str, str]] = []
    for document in documents:
        for record in document.get("records", []):
            record_id, reference = _import_record(state, record, references)
            if reference:
                references[reference] = record_id
            results.append({"referenceId": reference, "id": record_id})
    return Response.json(201, {"hasErrors": False, "results": results})


def _documents(payload: Any) -> list[Mapping[str, Any]]:
    if not isinstance(payload, dict):
        raise HttpError(400, "expected a tree document, documents or a plan", "INVALID_IMPORT")
    if "records" in payload:
        return [payload]
    if "documents" in payload:
        return list(payload["documents"])
    if "plan" in payload:
        files = payload.get("files", {})
        try:
            return [files[name] for step in payload["plan"] for name in step["files"]]
        except KeyError as missing:
            raise HttpError(
                400, f"plan names a missing file: {missing}", "INVALID_IMPORT"
            ) from None
    raise HttpError(400, "expected records, documents or plan", "INVALID_IMPORT")


def _import_record(
    state: SalesforceState, record: Mapping[str, Any], references: Mapping[str, str]
) -> tuple[str, str]:
    attributes = record.get("attributes") or {}
    spec = find_object(str(attributes.get("type", "")))
    if spec is None:
        raise HttpError(400, f"unknown sObject type {attributes.get('type')!r}", "INVALID_TYPE")
    values: dict[str, Any] = {}
    for name, raw in record.items():
        if name == "attributes":
            continue
        field = spec.field(name)
        if field is None:
            raise HttpError(400, f"No such column '{name}' on {spec.name}", "INVALID_FIELD")
        values[field.name] = _coerce(field, _resolve(raw, references))
    try:
        record_id = state.records.insert(
            spec.name, values, user_id=state.integration_user_id, audit=True
        )
    except DmlError as error:
        raise HttpError(
            400, f"{attributes.get('referenceId')}: {error.message}", error.status_code
        ) from None
    _history_for_imported(state, spec, record_id)
    return record_id, str(attributes.get("referenceId", ""))


def _resolve(raw: Any, references: Mapping[str, str]) -> Any:
    if isinstance(raw, str) and raw.startswith("@"):
        if raw[1:] not in references:
            raise HttpError(400, f"unresolved reference {raw}", "INVALID_CROSS_REFERENCE_KEY")
        return references[raw[1:]]
    return raw


def _coerce(field: FieldSpec, raw: Any) -> Any:
    if raw is None:
        return None
    converter = _COERCIONS.get(field.type, str)
    return converter(raw)


def _as_bool(raw: Any) -> bool:
    return raw if isinstance(raw, bool) else str(raw).lower() == "true"


def _as_datetime(raw: Any) -> datetime:
    moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00").replace("+0000", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_date(raw: Any) -> date:
    text = str(raw)
    if "T" in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    return date.fromisoformat(text)


_COERCIONS: dict[str, Callable[[Any], Any]] = {
    "currency": float,
    "double": float,
    "percent": float,
    "int": int,
    "boolean": _as_bool,
    "date": _as_date,
    "datetime": _as_datetime,
}


def _history_for_imported(state: SalesforceState, spec: ObjectSpec, record_id: str) -> None:
    """An imported opportunity gets the one history row its creation would have written."""
    if spec.name != "Opportunity":
        return
    row = state.records.get("Opportunity", record_id)
    if row is None:  # pragma: no cover - inserted just before
        raise RuntimeError(f"imported opportunity {record_id} vanished")
    state.records.import_history(record_id, row, row["CreatedDate"])
