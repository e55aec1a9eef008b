"""Coaching tasks into Salesforce: sObject Collections, and no duplicate, ever.

Creates go 200 at a time through ``POST composite/sobjects`` with ``allOrNone: false``
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
resources_composite_sobjects_collections_create.htm): the answer is 200 even when items
fail, so every item's result is read.

Salesforce has no idempotency key. Each task carries ``task_marker(key)`` in its
Description; when a create's outcome is unknown (timeout, dropped connection, 5xx after
sending) the writer does not resend: it looks for tasks carrying the markers, adopts
those (``already_existed``), and creates only the missing ones. Description is a long
text area, which SOQL cannot filter, so candidates are selected by owner, subtype and a
CreatedDate window relative to the server's clock (``LAST_N_DAYS``, no clock skew) and
their Description is searched here. Deleted candidates count too (``queryAll``): a task a
manager already deleted is not written again. A create still running on the server when
the search runs cannot be seen: the backoff before searching makes that unlikely, and
only an idempotency key (which Salesforce lacks) would make it impossible.

``verify_existing=True`` runs that search before the first create as well: for intents
whose earlier attempt ended in a crash, so nobody knows whether it was sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import SyncStopped
from connectors.records import TaskIntent, TaskResult, task_marker
from connectors.salesforce.client import SalesforceClient, error_code
from connectors.salesforce.errors import SalesforceConnectorError, UncertainWriteError
from connectors.salesforce.streams import soql_string
from connectors.writeback import WriteBatch, chunks, marked_body

COLLECTION_LIMIT = 200
SUBJECT_LIMIT = 255
DESCRIPTION_LIMIT = 32_000
OWNERS_PER_SEARCH = 100  # keeps the query URL short
RETRYABLE_ITEM_ERRORS = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}
)
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


class TaskWriter:
    def __init__(self, client: SalesforceClient) -> None:
        self.client = client
        self.config = client.config

    def write(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        """One result per intent (an intent repeated in ``intents`` makes one task)."""
        by_key: dict[str, TaskIntent] = {}
        for intent in intents:
            by_key.setdefault(intent.key, intent)
        batch = WriteBatch(list(by_key.values()))
        for chunk in chunks(batch.intents, COLLECTION_LIMIT):
            try:
                self._write_chunk(batch, chunk, verify_existing)
            except SyncStopped as stop:
                batch.fail_pending(batch.intents, stop.reason, stopped=True)
                break
            except (SalesforceError, SalesforceConnectorError, requests.RequestException) as exc:
                batch.fail_pending(chunk, _describe(exc))
        return [batch.results[intent.key] for intent in intents]

    def _write_chunk(
        self, batch: WriteBatch, chunk: list[TaskIntent], verify_existing: bool
    ) -> None:
        if verify_existing:
            batch.results.update(self.find(chunk, self.config.marker_search_days))
        for attempt in range(1, self.config.retry.attempts + 1):
            todo = batch.pending(chunk)
            if not todo:
                return
            try:
                items = self._create(todo)
            except UncertainWriteError:
                batch.uncertain.update(intent.key for intent in todo)
                # Let an in-flight create settle before looking for what it made.
                self.client.backoff(attempt)
                batch.results.update(self.find(todo, days=1))
                continue
            except SalesforceError as exc:  # the whole call refused (4xx): nothing created
                batch.results.update(_failed(todo, _describe(exc), retryable=False))
                return
            batch.results.update(_item_results(todo, items))
            return
        batch.fail_pending(chunk, f"no clear answer in {self.config.retry.attempts} attempts")

    def _create(self, intents: list[TaskIntent]) -> list[Any]:
        payload = {"allOrNone": False, "records": [self._task(i) for i in intents]}

        def post(sf: Salesforce) -> Any:
            return sf.restful("composite/sobjects", method="POST", json=payload)

        items = self.client.call("composite create", post, budgeted=False, idempotent=False)
        if not isinstance(items, list) or len(items) != len(intents):
            raise UncertainWriteError("sObject Collections answered with an unexpected shape")
        return items

    def _task(self, intent: TaskIntent) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "attributes": {"type": "Task"},
            "Subject": intent.subject[:SUBJECT_LIMIT],
            "Description": marked_body(intent, DESCRIPTION_LIMIT),
            "OwnerId": intent.assignee_crm_id,
            "ActivityDate": intent.due_date.isoformat(),
            "Priority": self.config.task_priorities[intent.priority.value],
            "Status": self.config.task_status,
            "TaskSubtype": "Task",
        }
        if intent.opportunity_crm_id:
            fields["WhatId"] = intent.opportunity_crm_id
        return fields

    def find(self, intents: Sequence[TaskIntent], days: int) -> dict[str, TaskResult]:
        """Tasks created in the last ``days`` days that carry one of the intents' markers."""
        markers = {task_marker(intent.key): intent.key for intent in intents}
        owners = sorted({i.assignee_crm_id for i in intents if _ID.fullmatch(i.assignee_crm_id)})
        found: dict[str, TaskResult] = {}
        for group in chunks(owners, OWNERS_PER_SEARCH):
            soql = _marker_search(group, days)
            # Write-back obeys the org's hard limit only, not a sync run's share.
            for page in self.client.query_pages(soql, include_deleted=True, budgeted=False):
                for row in page:
                    text = str(row.get("Description") or "")
                    for marker, key in markers.items():
                        if marker in text and key not in found:
                            found[key] = TaskResult(key, str(row["Id"]), already_existed=True)
        return found


def _marker_search(owners: Sequence[str], days: int) -> str:
    """Candidates for a marker: Description cannot be filtered, so owner, subtype and age.

    ``LAST_N_DAYS`` is evaluated by Salesforce, on its own clock.
    """
    quoted = ", ".join(soql_string(owner) for owner in owners)
    where = f"OwnerId IN ({quoted}) AND TaskSubtype = 'Task' AND CreatedDate = LAST_N_DAYS:{days}"
    return f"SELECT Id, Description FROM Task WHERE {where} ORDER BY CreatedDate, Id"  # noqa: S608


def _item_results(intents: list[TaskIntent], items: list[Any]) -> dict[str, TaskResult]:
    results: dict[str, TaskResult] = {}
    for intent, item in zip(intents, items, strict=True):
        if isinstance(item, dict) and item.get("success") and item.get("id"):
            results[intent.key] = TaskResult(intent.key, str(item["id"]))
            continue
        errors = item.get("errors") if isinstance(item, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        code = str(first.get("statusCode", "UNKNOWN"))
        message = f"{code}: {first.get('message', 'the task was not created')}"
        results[intent.key] = TaskResult(
            intent.key, error=message, retryable=code in RETRYABLE_ITEM_ERRORS
        )
    return results


def _failed(intents: Sequence[TaskIntent], error: str, *, retryable: bool) -> dict[str, TaskResult]:
    return {i.key: TaskResult(i.key, error=error, retryable=retryable) for i in intents}


def _describe(exc: Exception) -> str:
    if isinstance(exc, SalesforceError):
        return f"Salesforce answered {exc.status} {error_code(exc) or ''}".strip()
    return f"{type(exc).__name__}: {exc}"
