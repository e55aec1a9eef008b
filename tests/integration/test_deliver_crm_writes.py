"""The CRM-write worker on the store (SQLite and PostgreSQL): leases, retries, crashes.

The CRM here is a scripted connector, so each failure can be placed exactly; the same
worker against the sandbox CRMs over HTTPS is in ``test_deliver_sandbox.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connectors.records import TaskIntent, TaskResult
from service.outbox.crm_writes import CrmWriteWorker, DeliveryCounts, DeliveryPolicy
from service.store import Store
from service.store.connections import add_connection
from service.store.tables import CrmKind, CrmWrite, OutboxState, WebhookEvent

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class ScriptedCrm:
    """Creates each task once per key (as the marker search makes the real CRMs do);
    ``answer`` may replace the outcome of any intent."""

    def __init__(self) -> None:
        self.tasks: dict[str, str] = {}
        self.calls: list[tuple[list[str], bool]] = []
        self.answer: Callable[[TaskIntent], TaskResult | None] = lambda _: None

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        self.calls.append(([i.key for i in intents], verify_existing))
        results = []
        for intent in intents:
            scripted = self.answer(intent)
            if scripted is not None:
                results.append(scripted)
                continue
            known = intent.key in self.tasks
            crm_id = self.tasks.setdefault(intent.key, f"00T{len(self.tasks):012d}")
            results.append(TaskResult(intent.key, crm_id=crm_id, already_existed=known))
        return results


def _queue(store: Store, count: int) -> int:
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "acme", CrmKind.SALESFORCE, {}).id
        for n in range(count):
            session.add(
                CrmWrite(
                    connection_id=connection_id,
                    idempotency_key=f"task-{n:04d}",
                    rule_key="calls",
                    rep_crm_id="005REP",
                    assignee_crm_id="005MGR",
                    budget_owner_crm_id="005MGR",
                    payload={
                        "key": f"task-{n:04d}",
                        "assignee_crm_id": "005MGR",
                        "subject": f"Coach Rep {n}",
                        "body": "Calls down 40%.",
                        "due_date": date(2026, 11, 23).isoformat(),
                        "priority": "high",
                        "rep_crm_id": "005REP",
                        "opportunity_crm_id": None,
                    },
                    created_at=NOW - timedelta(hours=1),
                    available_at=NOW - timedelta(hours=1),
                )
            )
    return connection_id


def _worker(
    store: Store, connection_id: int, crm: ScriptedCrm, clock: Clock, **policy: Any
) -> CrmWriteWorker:
    return CrmWriteWorker(
        store,
        connection_id,
        crm,
        policy=DeliveryPolicy(**policy),
        clock=clock,
        rng=random.Random(7),  # noqa: S311 - retry jitter, not a secret
    )


def _rows(store: Store) -> list[CrmWrite]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(CrmWrite).order_by(CrmWrite.id)))


def test_a_run_delivers_every_due_task_in_claims_of_the_batch_size(store: Store):
    connection_id = _queue(store, 450)
    crm, clock = ScriptedCrm(), Clock()

    counts = _worker(store, connection_id, crm, clock).run()

    assert (counts.created, counts.batches) == (450, 3)
    assert [len(keys) for keys, _ in crm.calls] == [200, 200, 50]
    assert not any(verify for _, verify in crm.calls)
    rows = _rows(store)
    assert {row.state for row in rows} == {OutboxState.DONE}
    assert [row.crm_record_id for row in rows[:2]] == ["00T000000000000", "00T000000000001"]
    assert {(row.attempts, row.delivered_at, row.lease_until) for row in rows} == {(1, NOW, None)}
    assert _worker(store, connection_id, crm, clock).run().claimed == 0
    with store.unit_of_work() as session:
        events = session.scalars(select(WebhookEvent)).all()
    assert sorted(e.payload["task_key"] for e in events) == [r.idempotency_key for r in rows]
    assert {e.type for e in events} == {"task.created"}


def test_a_failed_create_is_retried_after_a_backoff_then_given_up_with_an_event(store: Store):
    connection_id = _queue(store, 2)
    crm, clock = ScriptedCrm(), Clock()
    crm.answer = lambda i: (
        TaskResult(i.key, error="SERVER_UNAVAILABLE", retryable=True)
        if i.key == "task-0001"
        else None
    )
    worker = _worker(store, connection_id, crm, clock, max_attempts=3)

    first = worker.run()
    assert (first.created, first.retrying) == (1, 1)
    waiting = _rows(store)[1]
    assert waiting.state is OutboxState.PENDING
    assert waiting.last_error == "SERVER_UNAVAILABLE"
    # full jitter on the first delay (2 minutes): between 1 and 2 minutes
    assert timedelta(minutes=1) <= waiting.available_at - NOW <= timedelta(minutes=2)
    assert worker.run().claimed == 0  # not due yet

    delays = []
    for _ in range(2):
        clock.now = _rows(store)[1].available_at
        worker.run()
        delays.append(_rows(store)[1].available_at - clock.now)
    given_up = _rows(store)[1]
    assert (given_up.state, given_up.attempts) == (OutboxState.FAILED, 3)
    with store.unit_of_work() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    created, event = events
    assert (created.type, created.payload["task_key"]) == ("task.created", "task-0000")
    assert created.payload["crm_record_id"] == "00T000000000000"
    assert event.type == "task.failed"
    assert (event.payload["task_key"], event.payload["attempts"]) == ("task-0001", 3)
    assert event.payload["error"] == "SERVER_UNAVAILABLE"


def test_a_refusal_no_retry_can_fix_fails_at_once(store: Store):
    connection_id = _queue(store, 1)
    crm = ScriptedCrm()
    crm.answer = lambda i: TaskResult(i.key, error="INVALID_CROSS_REFERENCE_KEY", retryable=False)
    counts = _worker(store, connection_id, crm, Clock()).run()
    assert counts.failed == 1
    assert _rows(store)[0].state is OutboxState.FAILED


def test_tasks_not_sent_because_the_api_share_ran_out_wait_without_losing_an_attempt(
    store: Store,
):
    connection_id = _queue(store, 3)
    crm, clock = ScriptedCrm(), Clock()
    crm.answer = lambda i: TaskResult(
        i.key, error="this run's API budget is spent", retryable=True, not_sent=True
    )
    counts = _worker(store, connection_id, crm, clock, batch_size=1).run()
    assert (counts.batches, counts.not_sent) == (1, 1)  # the run stopped cleanly
    assert [(r.state, r.attempts, r.lease_until) for r in _rows(store)] == [
        (OutboxState.PENDING, 0, None)
    ] * 3
    crm.answer = lambda _: None
    assert _worker(store, connection_id, crm, clock).run().created == 3


def test_a_run_killed_after_sending_leaves_leases_the_next_run_verifies_after_they_expire(
    store: Store,
):
    connection_id = _queue(store, 5)
    crm, clock = ScriptedCrm(), Clock()
    dying = _worker(store, connection_id, crm, clock)
    claimed = dying.claim()
    crm.write_tasks([c.intent for c in claimed[:3]])  # sent, then the process died

    later = _worker(store, connection_id, crm, clock)
    assert later.run().claimed == 0  # the dead run's lease still holds
    clock.now += timedelta(minutes=11)
    counts = later.run()

    assert (counts.adopted, counts.created) == (3, 2)
    assert crm.calls[-1] == ([f"task-{n:04d}" for n in range(5)], True)
    assert len(crm.tasks) == 5
    assert {row.state for row in _rows(store)} == {OutboxState.DONE}


def test_a_run_that_lost_its_lease_does_not_overwrite_the_new_holder(store: Store):
    connection_id = _queue(store, 1)
    crm, clock = ScriptedCrm(), Clock()
    slow = _worker(store, connection_id, crm, clock)
    claimed = slow.claim()
    clock.now += timedelta(minutes=11)
    fast = _worker(store, connection_id, crm, clock)
    assert fast.run().created == 1

    late = [TaskResult(c.intent.key, error="timed out", retryable=True) for c in claimed]
    counts = DeliveryCounts()
    assert slow.record(claimed, late, counts) is False
    assert counts.retrying == 0
    (row,) = _rows(store)
    assert (row.state, row.crm_record_id, row.last_error) == (
        OutboxState.DONE,
        "00T000000000000",
        None,
    )


def test_successive_claims_never_share_a_row(store: Store):
    connection_id = _queue(store, 10)
    clock = Clock()
    claims = [
        _worker(store, connection_id, ScriptedCrm(), clock, batch_size=4).claim() for _ in range(3)
    ]
    ids = [c.row_id for claim in claims for c in claim]
    assert len(ids) == len(set(ids)) == 10
    assert [len(claim) for claim in claims] == [4, 4, 2]


def test_workers_running_at_once_deliver_each_task_once(store: Store):
    connection_id = _queue(store, 300)
    crm, clock = ScriptedCrm(), Clock()
    workers = [_worker(store, connection_id, crm, clock, batch_size=10) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(lambda worker: worker.run(), workers))

    sent = [key for keys, _ in crm.calls for key in keys]
    assert len(sent) == len(set(sent)) == 300  # no task was sent by two workers
    assert sum(c.created for c in counts) == 300
    assert {row.state for row in _rows(store)} == {OutboxState.DONE}


class SlowCrm(ScriptedCrm):
    """A CRM whose create call lasts until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        self.started.set()
        assert self.release.wait(timeout=60)
        return super().write_tasks(intents, verify_existing=verify_existing)


def test_a_run_keeps_its_lease_while_its_call_outlasts_it(store: Store):
    """The lease is renewed while the CRM call runs, so another worker never takes over
    a batch whose tasks are being written (it would write them again)."""
    connection_id = _queue(store, 5)
    slow, lease = SlowCrm(), timedelta(seconds=1)
    first = CrmWriteWorker(store, connection_id, slow, policy=DeliveryPolicy(lease=lease))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(first.run)
        assert slow.started.wait(timeout=60)
        time.sleep(3.5 * lease.total_seconds())  # three leases and more: real time passes
        second = CrmWriteWorker(store, connection_id, ScriptedCrm(), policy=DeliveryPolicy())
        taken_over = second.claim()
        slow.release.set()
        counts = running.result(timeout=60)
    assert taken_over == []
    assert counts.created == 5
    with store.unit_of_work() as session:
        states = set(session.scalars(select(CrmWrite.state)))
    assert states == {OutboxState.DONE}
