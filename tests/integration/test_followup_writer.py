"""Queueing follow-ups on the store (SQLite and PostgreSQL): which task a revision or a
close reaches, rewording a task never sent, the alert severity and the per-recipient
daily limit, and re-runs that queue nothing twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from connectors.fake import FakeConnector
from rules.intents import CloseCoachingTask, ReviseCoachingTask
from rules.metrics import SubjectKey
from rules.policies import Severity
from service.outbox.crm_followups import FollowUpWorker
from service.store import Store
from service.store.connections import add_connection
from service.store.followups import AlertPolicy, FollowUpWriter
from service.store.tables import (
    CrmFollowUp,
    CrmKind,
    CrmWrite,
    Finding,
    FindingState,
    FollowUpKind,
    OutboxState,
    Rep,
    Rule,
    SubjectKind,
    TaskCompletion,
)
from service.store.tables import Severity as StoredSeverity

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _finding_with_tasks(
    store: Store, tasks: list[tuple[OutboxState, int]], manager: str = "m1", n: int = 0
) -> tuple[int, int, list[int]]:
    """A finding with tasks in the given (state, attempts), oldest first."""
    with store.unit_of_work() as session:
        connection = session.scalars(select(Rep.connection_id)).first()
        connection_id = connection or add_connection(session, "crm", CrmKind.SALESFORCE, {}).id
        rep = Rep(connection_id=connection_id, crm_id=f"r{n}", name="Rep", synced_at=NOW)
        rule = Rule(key=f"calls-{n}", name="Calls")
        session.add_all([rep, rule])
        session.flush()
        finding = Finding(
            rule_id=rule.id, rule_version=1, subject_kind=SubjectKind.REP, rep_id=rep.id,
            state=FindingState.OPEN, severity=StoredSeverity.LOW, period_start=date(2026, 11, 16),
            period_end=date(2026, 11, 20), observed=1.0, standard={"min": 2},
        )  # fmt: skip
        session.add(finding)
        session.flush()
        ids = []
        for index, (state, attempts) in enumerate(tasks):
            key = f"task-{n}-{index}"
            row = CrmWrite(
                connection_id=connection_id, idempotency_key=key, finding_id=finding.id,
                rule_key=rule.key, rep_crm_id=rep.crm_id, assignee_crm_id=manager,
                budget_owner_crm_id=manager, state=state, attempts=attempts,
                crm_record_id=f"00T{n}{index}" if state is OutboxState.DONE else None,
                created_at=NOW - timedelta(days=10 - index), available_at=NOW,
                payload={"key": key, "subject": "Coach", "body": "low", "severity": "low",
                         "priority": "low", "assignee_crm_id": manager, "due_date": "2026-12-01"},
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids.append(row.id)
        return connection_id, finding.id, ids


def _write(store: Store, connection_id: int, *intents: object, policy=None, at=NOW, new=()):
    with store.unit_of_work() as session:
        writer = FollowUpWriter(session, connection_id, at, policy or AlertPolicy())
        for intent in intents:
            if isinstance(intent, ReviseCoachingTask):
                writer.revise(intent)
            elif isinstance(intent, CloseCoachingTask):
                writer.close(intent)
        return writer.write(new)


def _revise(finding_id: int, severity: Severity = Severity.HIGH) -> ReviseCoachingTask:
    return ReviseCoachingTask(finding_id, "calls", SubjectKey("r0"), severity, "high", "New", "Now")


def _rows(store: Store) -> list[tuple[int, FollowUpKind, OutboxState]]:
    with store.unit_of_work() as session:
        rows = session.scalars(select(CrmFollowUp).order_by(CrmFollowUp.id))
        return [(r.task_id, r.kind, r.state) for r in rows]


def test_an_escalation_updates_the_newest_open_task_and_alerts_its_assignee(store: Store):
    connection_id, finding, (_old, newest) = _finding_with_tasks(
        store, [(OutboxState.DONE, 1), (OutboxState.DONE, 1)]
    )
    counts = _write(store, connection_id, _revise(finding))
    assert (counts.updates, counts.alerts) == (1, 1)
    assert _rows(store) == [
        (newest, FollowUpKind.UPDATE, OutboxState.PENDING),
        (newest, FollowUpKind.NOTIFY, OutboxState.PENDING),
    ]
    again = _write(store, connection_id, _revise(finding))  # the same evaluation re-run
    assert len(_rows(store)) == 2
    assert again.updates == 1


def test_a_task_never_sent_takes_the_new_wording_in_the_outbox(store: Store):
    connection_id, finding, (task,) = _finding_with_tasks(store, [(OutboxState.PENDING, 0)])
    counts = _write(store, connection_id, _revise(finding, Severity.MEDIUM))
    assert (counts.reworded_unsent, counts.updates, counts.alerts) == (1, 0, 0)
    assert _rows(store) == []
    with store.unit_of_work() as session:
        row = session.get(CrmWrite, task)
        assert row is not None
        assert (row.payload["subject"], row.payload["priority"]) == ("New", "high")


def test_a_resolution_completes_every_task_that_may_be_in_the_crm_and_drops_stale_alerts(
    store: Store,
):
    connection_id, finding, (sent, in_doubt, _never) = _finding_with_tasks(
        store, [(OutboxState.DONE, 1), (OutboxState.PENDING, 1), (OutboxState.FAILED, 12)]
    )
    _write(store, connection_id, _revise(finding))  # an update and an alert wait
    close = CloseCoachingTask(finding, "calls", SubjectKey("r0"), "Back inside.")
    counts = _write(store, connection_id, close, at=NOW + timedelta(days=1))
    assert counts.completions == 2
    rows = _rows(store)
    assert (in_doubt, FollowUpKind.UPDATE, OutboxState.CANCELLED) in rows
    assert (in_doubt, FollowUpKind.NOTIFY, OutboxState.CANCELLED) in rows
    assert {(t, k) for t, k, s in rows if k is FollowUpKind.COMPLETE} == {
        (sent, FollowUpKind.COMPLETE),
        (in_doubt, FollowUpKind.COMPLETE),
    }


def test_each_recipient_gets_at_most_the_daily_number_of_alerts(store: Store):
    findings = []
    for n in range(5):
        connection_id, finding, _ = _finding_with_tasks(store, [(OutboxState.DONE, 1)], n=n)
        findings.append(finding)
    policy = AlertPolicy(per_day=3)
    first = _write(store, connection_id, *(_revise(f) for f in findings[:2]), policy=policy)
    later = _write(store, connection_id, *(_revise(f) for f in findings[2:]), policy=policy,
                   at=NOW + timedelta(hours=1))  # fmt: skip
    assert (first.alerts, later.alerts, later.alerts_over_limit) == (2, 1, 2)
    next_day = _write(store, connection_id, _revise(findings[0]), policy=policy,
                      at=NOW + timedelta(hours=25))  # fmt: skip
    assert next_day.alerts == 1  # the first day's alerts are more than 24 hours old


def test_below_the_alert_severity_nobody_is_alerted(store: Store):
    connection_id, finding, _ = _finding_with_tasks(store, [(OutboxState.DONE, 1)])
    counts = _write(store, connection_id, _revise(finding, Severity.MEDIUM))
    assert (counts.updates, counts.alerts) == (1, 0)


def test_what_the_manager_did_first_settles_waiting_follow_ups_without_a_call(store: Store):
    connection_id, finding, (task,) = _finding_with_tasks(store, [(OutboxState.DONE, 1)])
    _write(store, connection_id, _revise(finding))  # an update and an alert wait
    with store.unit_of_work() as session:
        row = session.get(CrmWrite, task)
        assert row is not None
        row.completion = TaskCompletion.MANAGER  # the sync read it back completed

    fake = FakeConnector()
    counts = FollowUpWorker(store, connection_id, fake).run()

    assert fake.calls["change_tasks"] == fake.calls["send_alerts"] == 0
    assert counts.claimed == 0
    with store.unit_of_work() as session:
        rows = session.scalars(select(CrmFollowUp).order_by(CrmFollowUp.id)).all()
        assert [(r.kind, r.state, r.outcome) for r in rows] == [
            (FollowUpKind.UPDATE, OutboxState.DONE, "already_completed"),
            (FollowUpKind.NOTIFY, OutboxState.CANCELLED, None),
        ]
