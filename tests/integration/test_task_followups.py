"""Tasks follow their findings, through both sandbox CRMs over HTTPS with the real
connectors: an escalation rewords the task in place, a resolution completes it with a
note, and what a manager did in the CRM (completed, deleted) is read back by the next
sync and never undone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import Connector
from connectors.salesforce import SalesforceConfig, SalesforceConnector
from rules.intents import CloseCoachingTask, ReviseCoachingTask
from rules.metrics import SubjectKey
from rules.policies import Severity
from sandbox.hubspot import writes as hubspot_writes
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from service.outbox.crm_followups import FollowUpWorker
from service.outbox.crm_writes import CrmWriteWorker
from service.store import Store
from service.store.coaching_report import coaching_report
from service.store.connections import add_connection
from service.store.followups import AlertPolicy, FollowUpWriter
from service.store.tables import (
    CrmFollowUp,
    CrmKind,
    CrmWrite,
    Finding,
    FindingState,
    OutboxState,
    Rep,
    Rule,
    SubjectKind,
    TaskCompletion,
    WebhookEvent,
)
from service.store.tables import Severity as StoredSeverity
from service.sync.pipeline import sync_connection
from tests.integration.hubspot_sandbox import connector as hubspot_connector
from tests.integration.hubspot_sandbox import reset as reset_hubspot
from tests.integration.hubspot_sandbox import running_hubspot, sandbox_portal
from tests.integration.salesforce_sandbox import reset as reset_salesforce
from tests.integration.salesforce_sandbox import running_salesforce
from tests.integration.test_deliver_sandbox import FAST
from tests.integration.test_salesforce_connector import _auth

ORG = OrgSpec(seed=13, managers=1, reps=2, months=3, deal_scale=0.3)
NO_ALERTS = AlertPolicy(per_day=0)


@dataclass
class Crm:
    """A sandbox CRM as these tests see it: a connector, a manager and a rep, and what a
    manager can do to a task by hand."""

    name: str
    kind: CrmKind
    connect: Callable[[], Connector]
    manager: str
    rep: str
    task: Callable[[str], dict[str, Any]]  # subject, body, priority, closed, deleted
    alerts: Callable[[], list[dict[str, Any]]]  # recipient, title, target (or task)
    complete_by_hand: Callable[[str], None]
    delete_by_hand: Callable[[str], None]
    later: Callable[[], datetime]


@pytest.fixture(scope="module")
def salesforce() -> Iterator[Sandbox]:
    with running_salesforce(ORG) as running:
        yield running


@pytest.fixture(scope="module")
def hubspot() -> Iterator[Sandbox]:
    with running_hubspot(ORG) as running:
        yield running


@pytest.fixture(params=["salesforce", "hubspot"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    sandbox: Sandbox = request.getfixturevalue(request.param)
    assert sandbox.info is not None
    if request.param == "salesforce":
        yield _salesforce(sandbox)
        reset_salesforce(sandbox.info)
    else:
        yield _hubspot(sandbox)
        reset_hubspot(sandbox.info.hubspot_url)


def _salesforce(sandbox: Sandbox) -> Crm:
    info = sandbox.info
    assert info is not None
    clock = sandbox.clock
    clock.set(datetime.combine(ORG.as_of + timedelta(days=3), time(12), UTC))
    records = sandbox.salesforce_state.records
    users = records.rows("User", include_deleted=False)
    rep = next(u for u in users if u["ManagerId"] and u["IsActive"])

    def connect() -> Connector:
        config = SalesforceConfig(
            auth=_auth(info, "client_credentials"),
            login_url=info.salesforce_url,
            instance_url=info.salesforce_url,
            ca_bundle=info.ca_bundle,
            retry=FAST,
        )
        return SalesforceConnector(config, clock=clock.now, sleep=lambda _: None)

    def task(crm_id: str) -> dict[str, Any]:
        row = next(r for r in records.rows("Task", include_deleted=True) if r["Id"] == crm_id)
        return {
            "subject": row["Subject"],
            "body": row.get("Description") or "",
            "priority": row["Priority"],
            "closed": bool(row["IsClosed"]),
            "deleted": bool(row["IsDeleted"]),
        }

    def later() -> datetime:
        return clock.advance(timedelta(minutes=10))

    def alerts() -> list[dict[str, Any]]:
        return [
            {"recipient": n.recipient_ids[0], "title": n.title, "target": n.target_id}
            for n in sandbox.salesforce_state.notifications.sent()
        ]

    return Crm(
        "salesforce", CrmKind.SALESFORCE, connect, rep["ManagerId"], rep["Id"], task, alerts,
        lambda crm_id: records.update("Task", crm_id, {"Status": "Completed"},
                                      user_id=rep["ManagerId"]),
        lambda crm_id: records.delete("Task", crm_id, user_id=rep["ManagerId"]),
        later,
    )  # fmt: skip


def _hubspot(sandbox: Sandbox) -> Crm:
    portal = sandbox_portal(sandbox)
    state = portal.state
    owners = sorted(o.id for o in state.owners.values() if not o.archived)

    def task(crm_id: str) -> dict[str, Any]:
        obj = state.objects["tasks"][int(crm_id)]
        return {
            "subject": obj.props.get("hs_task_subject"),
            "body": obj.props.get("hs_task_body") or "",
            "priority": obj.props.get("hs_task_priority"),
            "closed": obj.props.get("hs_task_status") == "COMPLETED",
            "deleted": obj.archived_ms is not None,
        }

    def by_hand(crm_id: str, values: dict[str, str | None]) -> None:
        with state.lock:
            obj = state.objects["tasks"][int(crm_id)]
            hubspot_writes.update(state, obj, values, "0")

    def delete(crm_id: str) -> None:
        with state.lock:
            hubspot_writes.archive(state, state.objects["tasks"][int(crm_id)])

    def later() -> datetime:
        return portal.clock.advance(timedelta(minutes=10))

    def alerts() -> list[dict[str, Any]]:
        notes = [n for n in state.objects["notes"].values() if n.archived_ms is None]
        return [
            {
                "recipient": n.props.get("hubspot_owner_id"),
                "title": str(n.props.get("hs_note_body") or "").split("\n")[0],
                "target": next(iter(str(i) for i in (n.assoc or {}).get("tasks", {})), None),
            }
            for n in notes
            if "[driftcoach:" in str(n.props.get("hs_note_body") or "")
        ]

    def complete(crm_id: str) -> None:
        by_hand(crm_id, {"hs_task_status": "COMPLETED"})

    return Crm(
        "hubspot", CrmKind.HUBSPOT, lambda: hubspot_connector(portal), owners[0], owners[-1],
        task, alerts, complete, delete, later,
    )  # fmt: skip


@dataclass
class Setup:
    connection_id: int
    findings: list[int]
    tasks: list[CrmWrite]


def _delivered_tasks(store: Store, crm: Crm, count: int) -> Setup:
    """``count`` findings of one rep, each with a task delivered into the CRM."""
    now = crm.later()
    with store.unit_of_work() as session:
        connection_id = add_connection(session, crm.name, crm.kind, {}).id
        rep = Rep(connection_id=connection_id, crm_id=crm.rep, name="Rep", synced_at=now)
        session.add(rep)
        session.flush()
        findings = []
        for n in range(count):
            rule = Rule(key=f"calls-{crm.name}-{n}", name=f"Calls {n}")
            session.add(rule)
            session.flush()
            finding = Finding(
                rule_id=rule.id, rule_version=1, subject_kind=SubjectKind.REP, rep_id=rep.id,
                state=FindingState.OPEN, severity=StoredSeverity.LOW,
                period_start=date(2026, 11, 16), period_end=date(2026, 11, 20),
                observed=30.0, standard={"min": 40}, opened_at=now,
            )  # fmt: skip
            session.add(finding)
            session.flush()
            findings.append(finding.id)
            key = f"dc-followup-{crm.name}-{n}"
            session.add(
                CrmWrite(
                    connection_id=connection_id,
                    idempotency_key=key,
                    finding_id=finding.id,
                    rule_key=rule.key,
                    rep_crm_id=crm.rep,
                    assignee_crm_id=crm.manager,
                    budget_owner_crm_id=crm.manager,
                    created_at=now,
                    available_at=now,
                    payload={
                        "key": key,
                        "assignee_crm_id": crm.manager,
                        "rep_crm_id": crm.rep,
                        "subject": f"Coach Rep on calls ({n})",
                        "body": "Calls are 25% low.",
                        "due_date": "2026-12-01",
                        "priority": "low",
                        "severity": "low",
                    },
                )
            )
    connector = crm.connect()
    CrmWriteWorker(store, connection_id, connector, clock=lambda: now).run()
    connector.close()
    with store.unit_of_work() as session:
        tasks = list(session.scalars(select(CrmWrite).order_by(CrmWrite.id)))
        session.expunge_all()
    assert all(task.state is OutboxState.DONE for task in tasks)
    return Setup(connection_id, findings, tasks)


def _follow_up(
    store: Store, crm: Crm, setup: Setup, *intents: object, policy: AlertPolicy = NO_ALERTS
) -> None:
    as_of = crm.later()
    with store.unit_of_work() as session:
        writer = FollowUpWriter(session, setup.connection_id, as_of, policy)
        for intent in intents:
            if isinstance(intent, ReviseCoachingTask):
                writer.revise(intent)
            elif isinstance(intent, CloseCoachingTask):
                writer.close(intent)
        writer.write(())
    connector = crm.connect()
    FollowUpWorker(store, setup.connection_id, connector, clock=lambda: as_of).run()
    connector.close()


def _revise(finding_id: int, crm: Crm) -> ReviseCoachingTask:
    return ReviseCoachingTask(
        finding_id, "calls", SubjectKey(crm.rep), Severity.HIGH, "high",
        "Coach Rep on calls: now 60% low", "Calls are 60% below the rep's own level.",
    )  # fmt: skip


def _followups(store: Store) -> list[CrmFollowUp]:
    with store.unit_of_work() as session:
        rows = list(session.scalars(select(CrmFollowUp).order_by(CrmFollowUp.id)))
        session.expunge_all()
        return rows


def test_an_escalation_rewords_the_task_in_place_and_a_resolution_completes_it(
    store: Store, crm: Crm
):
    setup = _delivered_tasks(store, crm, 1)
    (task,) = setup.tasks
    crm_id = str(task.crm_record_id)

    _follow_up(store, crm, setup, _revise(setup.findings[0], crm))
    updated = crm.task(crm_id)
    assert updated["subject"] == "Coach Rep on calls: now 60% low"
    assert "60% below" in updated["body"]
    assert f"[driftcoach:{task.idempotency_key}]" in (updated["body"])
    assert str(updated["priority"]).lower() == "high"
    assert not updated["closed"]

    note = "Closed by driftcoach on 2026-12-08: Calls is back inside the standard (45)."
    _follow_up(
        store, crm, setup, CloseCoachingTask(setup.findings[0], "calls", SubjectKey(crm.rep), note)
    )
    closed = crm.task(crm_id)
    assert closed["closed"]
    assert closed["body"].startswith(note)
    assert "60% below" in closed["body"]  # the body as it stood is kept under the note
    assert [f.outcome for f in _followups(store)] == ["changed", "changed"]
    with store.unit_of_work() as session:
        row = session.get(CrmWrite, task.id)
        assert row is not None
        assert row.completion is TaskCompletion.DRIFTCOACH
        events = session.scalars(select(WebhookEvent).where(WebhookEvent.type == "task.completed"))
        assert [e.payload["completed_by"] for e in events] == ["driftcoach"]


def test_what_the_manager_did_is_read_back_by_the_sync_and_never_undone(store: Store, crm: Crm):
    setup = _delivered_tasks(store, crm, 3)
    done_by_hand, deleted_by_hand, untouched = setup.tasks
    connector = crm.connect()
    sync_connection(store, setup.connection_id, connector)  # the first sync: all open
    connector.close()

    crm.complete_by_hand(str(done_by_hand.crm_record_id))
    crm.delete_by_hand(str(deleted_by_hand.crm_record_id))
    crm.later()
    connector = crm.connect()
    sync_connection(store, setup.connection_id, connector)
    connector.close()

    with store.unit_of_work() as session:
        rows = {r.id: r for r in session.scalars(select(CrmWrite))}
        assert rows[done_by_hand.id].completion is TaskCompletion.MANAGER
        assert rows[deleted_by_hand.id].completion is TaskCompletion.DELETED
        assert rows[untouched.id].completion is None
        coached = session.get(Finding, setup.findings[0])
        assert coached is not None
        assert coached.coached_at is not None
        events = list(
            session.scalars(select(WebhookEvent).where(WebhookEvent.type == "task.completed"))
        )
        assert [(e.payload["task_key"], e.payload["completed_by"]) for e in events] == [
            (done_by_hand.idempotency_key, "manager")
        ]
        lines = coaching_report(session, [setup.connection_id])
        assert {line.manager for line in lines} == {crm.manager}
        assert [(line.created, line.completed) for line in lines] == [(1, 1), (1, 0), (1, 0)]

    # The findings then escalate and resolve: the manager's tasks stay as they left them.
    subject = SubjectKey(crm.rep)
    closes = [
        CloseCoachingTask(f, "calls", subject, "Closed by driftcoach.") for f in setup.findings
    ]
    before = {t.id: crm.task(str(t.crm_record_id)) for t in (done_by_hand, deleted_by_hand)}
    _follow_up(store, crm, setup, *closes)
    after = {t.id: crm.task(str(t.crm_record_id)) for t in (done_by_hand, deleted_by_hand)}
    assert after == before  # not reopened, not recreated, not written
    assert crm.task(str(untouched.crm_record_id))["closed"]
    assert [f.task_id for f in _followups(store)] == [untouched.id]  # only the open one


def test_a_high_severity_escalation_alerts_the_assignee_in_the_crm(store: Store, crm: Crm):
    setup = _delivered_tasks(store, crm, 1)
    (task,) = setup.tasks
    _follow_up(store, crm, setup, _revise(setup.findings[0], crm), policy=AlertPolicy())

    (alert,) = crm.alerts()
    assert alert["recipient"] == crm.manager
    assert alert["title"] == "High: Coach Rep on calls: now 60% low"
    assert alert["target"] == task.crm_record_id  # the bell opens the task; the note is on it
    assert sorted(f.outcome or "" for f in _followups(store)) == ["changed", "sent"]
    _follow_up(store, crm, setup, _revise(setup.findings[0], crm), policy=AlertPolicy(per_day=1))
    assert len(crm.alerts()) == 1  # the recipient's limit for the day is reached
