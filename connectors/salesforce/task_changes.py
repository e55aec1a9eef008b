"""Tasks driftcoach created, kept in step with their findings: updated or completed by id.

Each batch of up to 200 tasks is read first (one ``queryAll`` by id: the status, whether
it is deleted, and the Description as it stands), then changed in one sObject
Collections update with ``allOrNone: false``. Reading first is what keeps the manager in
charge of their own tasks: a task they completed is left as they left it (an update
never sends a status, so it could not reopen one anyway), and a task they deleted is
reported deleted, never written again. A completing note goes before the Description as
read, so the manager's own notes in it survive and the marker stays.

Updates are idempotent (the same values sent twice leave the same task), so a call whose
outcome is unknown is simply sent again by the client's retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import SyncStopped
from connectors.records import (
    TaskChange,
    TaskChangeKind,
    TaskChangeOutcome,
    TaskChangeResult,
)
from connectors.salesforce.client import SalesforceClient, error_code
from connectors.salesforce.errors import SalesforceConnectorError
from connectors.salesforce.streams import soql_string
from connectors.salesforce.writeback import (
    COLLECTION_LIMIT,
    DESCRIPTION_LIMIT,
    RETRYABLE_ITEM_ERRORS,
    SUBJECT_LIMIT,
)
from connectors.writeback import chunks, marked_body_text, noted_body

GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


class TaskChanger:
    def __init__(self, client: SalesforceClient) -> None:
        self.client, self.config = client, client.config

    def change(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        """One result per change, in order; a change repeated is sent once."""
        unique = list({_name(change): change for change in changes}.values())
        results: dict[str, TaskChangeResult] = {}
        for chunk in chunks(unique, COLLECTION_LIMIT):
            try:
                results.update(self._change_chunk(chunk))
            except SyncStopped as stop:
                results.update(_failed(unique, stop.reason, retryable=True, skip=results))
                break
            except (SalesforceError, SalesforceConnectorError, requests.RequestException) as exc:
                retryable = not isinstance(exc, SalesforceError) or exc.status >= 500
                results.update(_failed(chunk, _describe(exc), retryable=retryable))
        return [results[_name(change)] for change in changes]

    def _change_chunk(self, chunk: list[TaskChange]) -> dict[str, TaskChangeResult]:
        current = self._current([change.crm_id for change in chunk])
        results: dict[str, TaskChangeResult] = {}
        sending: list[tuple[TaskChange, dict[str, Any]]] = []
        for change in chunk:
            row = current.get(change.crm_id)
            name = _name(change)
            if row is None or row.get("IsDeleted"):
                results[name] = TaskChangeResult(change.key, TaskChangeOutcome.DELETED)
            elif row.get("IsClosed"):
                results[name] = TaskChangeResult(change.key, TaskChangeOutcome.ALREADY_COMPLETED)
            else:
                sending.append((change, self._fields(change, row)))
        if sending:
            results.update(self._update(sending))
        return results

    def _current(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The tasks as they stand, deleted ones included (``queryAll``)."""
        quoted = ", ".join(soql_string(crm_id) for crm_id in ids)
        soql = f"SELECT Id, IsClosed, IsDeleted, Description FROM Task WHERE Id IN ({quoted})"  # noqa: S608
        found: dict[str, dict[str, Any]] = {}
        for page in self.client.query_pages(soql, include_deleted=True, budgeted=False):
            for row in page:
                found[str(row["Id"])[:15]] = row
        return {crm_id: found[crm_id[:15]] for crm_id in ids if crm_id[:15] in found}

    def _fields(self, change: TaskChange, row: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"attributes": {"type": "Task"}, "Id": change.crm_id}
        if change.kind is TaskChangeKind.COMPLETE:
            current = str(row.get("Description") or "")
            fields["Status"] = self.config.task_completed_status
            fields["Description"] = noted_body(
                change.note or "", current, change.key, DESCRIPTION_LIMIT
            )
            return fields
        if change.title is not None:
            fields["Subject"] = change.title[:SUBJECT_LIMIT]
        if change.body is not None:
            fields["Description"] = marked_body_text(change.body, change.key, DESCRIPTION_LIMIT)
        if change.priority is not None:
            fields["Priority"] = self.config.task_priorities[change.priority.value]
        return fields

    def _update(
        self, sending: list[tuple[TaskChange, dict[str, Any]]]
    ) -> dict[str, TaskChangeResult]:
        payload = {"allOrNone": False, "records": [fields for _, fields in sending]}

        def patch(sf: Salesforce) -> Any:
            return sf.restful("composite/sobjects", method="PATCH", json=payload)

        items = self.client.call("composite update", patch, budgeted=False, idempotent=True)
        if not isinstance(items, list) or len(items) != len(sending):
            message = "sObject Collections answered with an unexpected shape"
            return _failed([change for change, _ in sending], message, retryable=True)
        return {
            _name(change): _item_result(change, item)
            for (change, _), item in zip(sending, items, strict=True)
        }


def _item_result(change: TaskChange, item: Any) -> TaskChangeResult:
    if isinstance(item, dict) and item.get("success"):
        return TaskChangeResult(change.key, TaskChangeOutcome.CHANGED)
    errors = item.get("errors") if isinstance(item, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = str(first.get("statusCode", "UNKNOWN"))
    if code in GONE:
        return TaskChangeResult(change.key, TaskChangeOutcome.DELETED)
    message = f"{code}: {first.get('message', 'the task was not changed')}"
    return TaskChangeResult(change.key, error=message, retryable=code in RETRYABLE_ITEM_ERRORS)


def _failed(
    changes: Sequence[TaskChange],
    error: str,
    *,
    retryable: bool,
    skip: dict[str, TaskChangeResult] | None = None,
) -> dict[str, TaskChangeResult]:
    done = skip or {}
    return {
        _name(c): TaskChangeResult(c.key, error=error, retryable=retryable)
        for c in changes
        if _name(c) not in done
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, SalesforceError):
        return f"Salesforce answered {exc.status} {error_code(exc) or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


def _name(change: TaskChange) -> str:
    return f"{change.key}:{change.kind}"
