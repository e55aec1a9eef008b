"""Coaching tasks into HubSpot: batch create, and no duplicate, ever.

Creates go 100 at a time through ``POST /crm/v3/objects/tasks/batch/create``, each with
an inline association to its deal (HubSpot-defined type 216, task to deal). Batch writes
are not atomic: a 207 answer carries the created tasks in ``results`` and the refused
inputs in ``errors``, in no promised order, so each created task is matched to its
intent by the marker it carries. A whole batch refused with a 400 (one invalid value
fails them all) is sent again one task per call, so one bad task cannot block the rest.

HubSpot has no idempotency key (``objectWriteTraceId`` only traces). Each task carries
``task_marker(key)`` in ``hs_task_body``; when a create's outcome is unknown (timeout,
dropped connection, 5xx after sending) the writer does not resend: it waits for the
search index to catch up (``index_lag_seconds``), looks for tasks of the same owners
created since the day before that carry the markers, adopts those (``already_existed``),
and creates only the missing ones. A 429 or a refused connection never created anything
and is simply retried by the client.

``verify_existing=True`` runs that search before the first create as well, over
``marker_search_days``: for intents whose earlier attempt ended in a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from connectors.base import SyncStopped
from connectors.hubspot import api
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.errors import HubSpotApiError, HubSpotConnectorError, UncertainWriteError
from connectors.hubspot.streams import millis
from connectors.records import TaskIntent, TaskResult, task_marker
from connectors.writeback import WriteBatch, chunks, marked_body

TASKS = "tasks"
TASK_TO_DEAL = 216  # HubSpot-defined association type id, task -> deal
SUBJECT_LIMIT = 255
BODY_LIMIT = 65_000  # string properties hold 65,536 characters
OWNERS_PER_SEARCH = 100


class TaskWriter:
    def __init__(self, client: HubSpotClient, clock: Callable[[], datetime]) -> None:
        self.client, self.config, self._clock = client, client.config, clock

    def write(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        """One result per intent (an intent repeated in ``intents`` makes one task)."""
        by_key: dict[str, TaskIntent] = {}
        for intent in intents:
            by_key.setdefault(intent.key, intent)
        batch = WriteBatch(list(by_key.values()))
        for chunk in chunks(batch.intents, api.BATCH_LIMIT):
            try:
                self._write_chunk(batch, chunk, verify_existing)
            except SyncStopped as stop:
                batch.fail_pending(batch.intents, stop.reason, stopped=True)
                break
            except HubSpotConnectorError as exc:
                batch.fail_pending(chunk, str(exc))
        return [batch.results[intent.key] for intent in intents]

    def _write_chunk(
        self, batch: WriteBatch, chunk: list[TaskIntent], verify_existing: bool
    ) -> None:
        if verify_existing:
            batch.results.update(self.find(chunk, self.config.marker_search_days))
        attempts = self.config.retry.attempts
        for attempt in range(1, attempts + 1):
            todo = batch.pending(chunk)
            if not todo:
                return
            try:
                self._create(todo, batch)
            except UncertainWriteError:
                batch.uncertain.update(intent.key for intent in todo)
                self._settle(attempt)
                batch.results.update(self.find(todo, days=1))
                continue
            return
        batch.fail_pending(chunk, f"no clear answer in {attempts} attempts")

    def _settle(self, attempt: int) -> None:
        """Let an in-flight create finish and the search index see it before looking."""
        self.client.backoff(attempt)
        self.client.pacer.wait(float(self.config.index_lag_seconds))

    def _create(self, intents: list[TaskIntent], batch: WriteBatch) -> None:
        """Create the tasks, each result into ``batch`` as soon as it is known; a whole
        batch refused is retried one task per call. A run stopped part way through those
        (the API share spent) must not call the tasks already created "not sent": a
        retry without a marker search would create them again."""
        try:
            answer = api.batch_create(self.client, TASKS, [self._task(i) for i in intents])
        except HubSpotApiError as exc:
            if exc.status != 400 or len(intents) == 1:
                retryable = exc.status in (429, 500, 502, 503)
                batch.results.update(_failed(intents, str(exc), retryable=retryable))
                return
            for intent in intents:
                self._create([intent], batch)
            return
        batch.results.update(_item_results(intents, answer))

    def _task(self, intent: TaskIntent) -> dict[str, Any]:
        due = datetime.combine(intent.due_date, time(self.config.task_due_hour_utc), UTC)
        task: dict[str, Any] = {
            "properties": {
                "hs_task_subject": intent.subject[:SUBJECT_LIMIT],
                "hs_task_body": marked_body(intent, BODY_LIMIT),
                "hs_timestamp": millis(due),
                "hubspot_owner_id": intent.assignee_crm_id,
                "hs_task_priority": self.config.task_priorities[intent.priority.value],
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": "TODO",
            }
        }
        if intent.opportunity_crm_id:
            spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_DEAL}
            task["associations"] = [{"to": {"id": intent.opportunity_crm_id}, "types": [spec]}]
        return task

    def find(self, intents: Sequence[TaskIntent], days: int) -> dict[str, TaskResult]:
        """Tasks of the intents' owners created in the last ``days`` days carrying a marker."""
        markers = {task_marker(intent.key): intent.key for intent in intents}
        owners = sorted({intent.assignee_crm_id for intent in intents})
        since = self._clock() - timedelta(days=days)
        found: dict[str, TaskResult] = {}
        for group in chunks(owners, OWNERS_PER_SEARCH):
            for task in self._candidates(group, since):
                text = str((task.get("properties") or {}).get("hs_task_body") or "")
                for marker, key in markers.items():
                    if marker in text and key not in found:
                        found[key] = TaskResult(key, str(task["id"]), already_existed=True)
        return found

    def _candidates(self, owners: list[str], since: datetime) -> Iterator[dict[str, Any]]:
        """Search pages of tasks by owner and creation time, restarting after the last id.
        Write-back is not a sync: it is not held to a run's share of the daily budget."""
        after_id = 0
        while True:
            filters = [
                {"propertyName": "hubspot_owner_id", "operator": "IN", "values": owners},
                {"propertyName": "hs_createdate", "operator": "GTE", "value": millis(since)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
            ]
            body = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": ["hs_task_body"],
                "limit": api.SEARCH_LIMIT,
            }
            answer = api.search(self.client, TASKS, body, budgeted=False)
            results = answer.get("results") or []
            yield from results
            if not results or int(answer.get("total") or 0) <= len(results):
                return
            after_id = int(results[-1]["id"])


def _item_results(intents: list[TaskIntent], answer: Any) -> dict[str, TaskResult]:
    """Created tasks matched to intents by marker; the others failed with the errors given.

    A 2xx answer is HubSpot's final word on every input: an input it did not create was
    refused (its errors do not say which input they belong to, so each unmatched intent
    gets all of them), and sending it again would only be refused again.
    """
    body = answer if isinstance(answer, dict) else {}
    markers = {task_marker(intent.key): intent.key for intent in intents}
    results: dict[str, TaskResult] = {}
    for task in body.get("results") or []:
        text = str((task.get("properties") or {}).get("hs_task_body") or "")
        key = next((k for marker, k in markers.items() if marker in text), None)
        if key is not None and key not in results:
            results[key] = TaskResult(key, str(task["id"]))
    if len(results) < len(body.get("results") or []):
        raise UncertainWriteError("batch create answered with tasks that carry no marker")
    errors = "; ".join(
        f"{error.get('category', 'ERROR')}: {error.get('message', '')}".strip()
        for error in body.get("errors") or []
        if isinstance(error, dict)
    )
    for intent in intents:
        if intent.key not in results:
            reason = errors or "HubSpot did not create the task"
            results[intent.key] = TaskResult(intent.key, error=reason, retryable=False)
    return results


def _failed(intents: Sequence[TaskIntent], error: str, *, retryable: bool) -> dict[str, TaskResult]:
    return {i.key: TaskResult(i.key, error=error, retryable=retryable) for i in intents}
