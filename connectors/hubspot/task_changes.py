"""Tasks driftcoach created, kept in step with their findings: updated or completed by id.

Each batch of up to 100 tasks is read first (``batch/read``: the status and the body as
they stand; an id HubSpot no longer has comes back among the errors, which is how a
deleted task shows), then changed in one ``batch/update``. Reading first keeps the
manager in charge of their own tasks: a task they completed is left as they left it (an
update never sends a status, so it could not reopen one anyway), and a task they
deleted is reported deleted, never written again. A completing note goes before the body
as read, so the manager's own notes survive and the marker stays.

Updates are idempotent, so a call whose outcome is unknown is sent again by the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.base import SyncStopped
from connectors.hubspot import api
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.errors import HubSpotApiError, HubSpotConnectorError
from connectors.hubspot.writeback import BODY_LIMIT, SUBJECT_LIMIT, TASKS
from connectors.records import (
    TaskChange,
    TaskChangeKind,
    TaskChangeOutcome,
    TaskChangeResult,
)
from connectors.writeback import chunks, marked_body_text, noted_body

COMPLETED = "COMPLETED"


class TaskChanger:
    def __init__(self, client: HubSpotClient) -> None:
        self.client, self.config = client, client.config

    def change(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        """One result per change, in order; a change repeated is sent once."""
        unique = list({_name(change): change for change in changes}.values())
        results: dict[str, TaskChangeResult] = {}
        for chunk in chunks(unique, api.BATCH_LIMIT):
            try:
                results.update(self._change_chunk(chunk))
            except SyncStopped as stop:
                pending = [c for c in unique if _name(c) not in results]
                results.update(_failed(pending, stop.reason, retryable=True))
                break
            except HubSpotApiError as exc:
                retryable = exc.status == 429 or exc.status >= 500
                results.update(_failed(chunk, str(exc), retryable=retryable))
            except HubSpotConnectorError as exc:
                results.update(_failed(chunk, str(exc), retryable=True))
        return [results[_name(change)] for change in changes]

    def _change_chunk(self, chunk: list[TaskChange]) -> dict[str, TaskChangeResult]:
        current = self._current(list(dict.fromkeys(change.crm_id for change in chunk)))
        results: dict[str, TaskChangeResult] = {}
        sending: list[tuple[TaskChange, dict[str, Any]]] = []
        for change in chunk:
            props = current.get(change.crm_id)
            if props is None:
                results[_name(change)] = TaskChangeResult(change.key, TaskChangeOutcome.DELETED)
            elif str(props.get("hs_task_status") or "") == COMPLETED:
                outcome = TaskChangeOutcome.ALREADY_COMPLETED
                results[_name(change)] = TaskChangeResult(change.key, outcome)
            else:
                sending.append((change, self._properties(change, props)))
        if sending:
            results.update(self._update(sending))
        return results

    def _current(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The tasks' properties as they stand; archived (deleted) tasks are absent."""
        answer = api.batch_read(
            self.client, TASKS, ids, properties=["hs_task_status", "hs_task_body"], budgeted=False
        )
        return {
            str(task["id"]): dict(task.get("properties") or {})
            for task in answer.get("results") or []
        }

    def _properties(self, change: TaskChange, props: dict[str, Any]) -> dict[str, Any]:
        if change.kind is TaskChangeKind.COMPLETE:
            current = str(props.get("hs_task_body") or "")
            return {
                "hs_task_status": COMPLETED,
                "hs_task_body": noted_body(change.note or "", current, change.key, BODY_LIMIT),
            }
        changed: dict[str, Any] = {}
        if change.title is not None:
            changed["hs_task_subject"] = change.title[:SUBJECT_LIMIT]
        if change.body is not None:
            changed["hs_task_body"] = marked_body_text(change.body, change.key, BODY_LIMIT)
        if change.priority is not None:
            changed["hs_task_priority"] = self.config.task_priorities[change.priority.value]
        return changed

    def _update(
        self, sending: list[tuple[TaskChange, dict[str, Any]]]
    ) -> dict[str, TaskChangeResult]:
        inputs = [{"id": change.crm_id, "properties": props} for change, props in sending]
        answer = api.batch_update(self.client, TASKS, inputs)
        changed = {str(task["id"]) for task in (answer.get("results") or [])}
        results: dict[str, TaskChangeResult] = {}
        for change, _ in sending:
            if change.crm_id in changed:
                results[_name(change)] = TaskChangeResult(change.key, TaskChangeOutcome.CHANGED)
            else:  # an id the update could not find: deleted between the read and now
                results[_name(change)] = TaskChangeResult(change.key, TaskChangeOutcome.DELETED)
        return results


def _failed(
    changes: Sequence[TaskChange], error: str, *, retryable: bool
) -> dict[str, TaskChangeResult]:
    return {_name(c): TaskChangeResult(c.key, error=error, retryable=retryable) for c in changes}


def _name(change: TaskChange) -> str:
    return f"{change.key}:{change.kind}"
