"""sObject resources: describe, create/read/update/delete, Get Updated/Deleted, Collections.

Shapes follow the REST API Developer Guide: a create answers 201 ``{id, success,
errors}``; update and delete answer 204; sObject Collections answer 200 with one
result per record, failures included, so a client must check every item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sandbox.http import HttpError, Request, Response
from sandbox.salesforce.record_store import DmlError
from sandbox.salesforce.schema import (
    CATALOG,
    ObjectSpec,
    find_object,
    format_datetime,
    from_json_value,
    to_json_value,
)
from sandbox.salesforce.state import SalesforceState

COLLECTION_LIMIT = 200
REPLICATION_WINDOW = timedelta(days=30)


class SObjectsApi:
    def __init__(self, state: SalesforceState) -> None:
        self.state = state

    # ---------------------------------------------------------------- metadata

    def describe_global(self, request: Request) -> Response:
        version = _version(request)
        entries = [spec.describe_global_entry(version) for spec in CATALOG.values()]
        return Response.json(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": entries})

    def basic_info(self, request: Request) -> Response:
        spec = _object(request)
        body = {"objectDescribe": spec.describe_global_entry(_version(request)), "recentItems": []}
        return Response.json(200, body)

    def describe(self, request: Request) -> Response:
        return Response.json(200, _object(request).describe(_version(request)))

    # ---------------------------------------------------------------- records

    def create(self, request: Request, user_id: str) -> Response:
        spec = _object(request)
        try:
            record_id = self.state.records.insert(
                spec.name, _python_values(spec, _body(request)), user_id=user_id
            )
        except DmlError as error:
            return _dml_error_response(error)
        return Response.json(201, {"id": record_id, "success": True, "errors": []})

    def read(self, request: Request) -> Response:
        spec = _object(request)
        row = self.state.records.get(spec.name, request.params["id"])
        if row is None or row["IsDeleted"]:
            raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")
        wanted = request.args("fields")
        return Response.json(200, record_json(spec, row, _version(request), wanted or None))

    def update(self, request: Request, user_id: str) -> Response:
        spec = _object(request)
        values = _python_values(spec, _body(request))
        try:
            self.state.records.update(spec.name, request.params["id"], values, user_id=user_id)
        except DmlError as error:
            return _dml_error_response(error)
        return Response(204)

    def delete(self, request: Request, user_id: str) -> Response:
        spec = _object(request)
        try:
            self.state.records.delete(spec.name, request.params["id"], user_id=user_id)
        except DmlError as error:
            return _dml_error_response(error)
        return Response(204)

    # ---------------------------------------------------------------- replication

    def updated(self, request: Request) -> Response:
        spec, start, end = self._window(request)
        ids = self.state.records.updated_ids(spec.name, start, end)
        return Response.json(200, {"ids": ids, "latestDateCovered": format_datetime(end)})

    def deleted(self, request: Request) -> Response:
        spec, start, end = self._window(request)
        deleted = [
            {"id": record_id, "deletedDate": format_datetime(at)}
            for record_id, at in self.state.records.deleted_between(spec.name, start, end)
        ]
        earliest = self.state.clock.now() - REPLICATION_WINDOW
        body = {
            "deletedRecords": deleted,
            "earliestDateAvailable": format_datetime(earliest),
            "latestDateCovered": format_datetime(end),
        }
        return Response.json(200, body)

    def _window(self, request: Request) -> tuple[ObjectSpec, datetime, datetime]:
        spec = _object(request)
        try:
            start = _parse_datetime(request.arg("start") or "")
            end = _parse_datetime(request.arg("end") or "")
        except ValueError:
            raise HttpError(
                400, "start and end must be dateTime values", "INVALID_PARAMETER_VALUE"
            ) from None
        now = self.state.clock.now()
        if start < now - REPLICATION_WINDOW:
            raise HttpError(
                400, "startDate cannot be more than 30 days ago", "INVALID_REPLICATION_DATE"
            )
        if end <= start:
            raise HttpError(
                400, "startDate must chronologically precede endDate", "INVALID_REPLICATION_DATE"
            )
        # Salesforce rounds the window to whole minutes.
        return spec, start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)

    # ---------------------------------------------------------------- collections

    def collection_create(self, request: Request, user_id: str) -> Response:
        return self._collection(request, user_id, creating=True)

    def collection_update(self, request: Request, user_id: str) -> Response:
        return self._collection(request, user_id, creating=False)

    def _collection(self, request: Request, user_id: str, *, creating: bool) -> Response:
        body = _body(request)
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise HttpError(400, "records: required field is missing", "INVALID_FIELD")
        if len(records) > COLLECTION_LIMIT:
            raise HttpError(
                400,
                "record limit reached. cannot submit more than 200 records into this call",
                "EXCEEDED_ID_LIMIT",
            )
        all_or_none = bool(body.get("allOrNone", False))
        snapshot = self.state.records.snapshot() if all_or_none else None
        results = [self._collection_item(item, user_id, creating) for item in records]
        if snapshot is not None and any(not result["success"] for result in results):
            self.state.records.restore(snapshot)
            results = [_rolled_back(result) for result in results]
        return Response.json(200, results)

    def _collection_item(self, item: Any, user_id: str, creating: bool) -> dict[str, Any]:
        try:
            if not isinstance(item, dict):
                raise DmlError("INVALID_FIELD", "each record must be an object")
            type_name = str((item.get("attributes") or {}).get("type", ""))
            spec = find_object(type_name)
            if spec is None:
                raise DmlError("INVALID_TYPE", f"sObject type '{type_name}' is not supported")
            if creating:
                record_id = self.state.records.insert(
                    spec.name, _python_values(spec, item), user_id=user_id
                )
            else:
                record_id = str(item.get("Id") or item.get("id") or "")
                values = {k: v for k, v in item.items() if k.lower() != "id"}
                self.state.records.update(
                    spec.name, record_id, _python_values(spec, values), user_id=user_id
                )
        except DmlError as error:
            return {"success": False, "errors": [error.as_error()]}
        except HttpError as error:
            return {
                "success": False,
                "errors": [{"statusCode": error.code, "message": error.message, "fields": []}],
            }
        return {"id": record_id, "success": True, "errors": []}


def record_json(
    spec: ObjectSpec, row: Mapping[str, Any], version: str, fields: list[str] | None = None
) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{spec.name}/{row['Id']}"
    body: dict[str, Any] = {"attributes": {"type": spec.name, "url": url}}
    for field in spec.fields:
        if fields is None or any(name.lower() == field.name.lower() for name in fields):
            body[field.name] = to_json_value(field, row.get(field.name))
    return body


def _python_values(spec: ObjectSpec, body: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name == "attributes":
            continue
        field = spec.field(name)
        if field is None:
            raise DmlError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}", [name]
            )
        try:
            values[field.name] = from_json_value(field, value)
        except ValueError as exc:
            raise DmlError("JSON_PARSER_ERROR", str(exc), [field.name]) from None
    return values


def _rolled_back(result: dict[str, Any]) -> dict[str, Any]:
    if not result["success"]:
        return result
    message = (
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header"
    )
    error = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": message, "fields": []}
    return {"success": False, "errors": [error]}


def _dml_error_response(error: DmlError) -> Response:
    status = 404 if error.status_code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400
    body = [{"message": error.message, "errorCode": error.status_code, "fields": error.fields}]
    return Response.json(status, body)


def _object(request: Request) -> ObjectSpec:
    spec = find_object(request.params["sobject"])
    if spec is None:
        raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")
    return spec


def _version(request: Request) -> str:
    return request.params["version"][1:]


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "Json Deserialization failed: expected an object", "JSON_PARSER_ERROR")
    return body


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return value
