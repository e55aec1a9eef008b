"""``/v1/findings``, ``/v1/tasks`` and ``/v1/coaching-report`` through the real app:
filters that each narrow the list, a finding's history, snoozing with its audit trail
and its conflicts, tasks with their follow-ups, and the coaching report's numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connectors.records import StageCategory
from service.evaluation.run import evaluate_connection
from service.store import Store
from service.store.connections import add_connection
from service.store.findings import reopen_lapsed_snoozes
from service.store.stored_rules import apply_rule
from service.store.tables import (
    AuditEntry,
    CrmFollowUp,
    CrmKind,
    CrmWrite,
    Finding,
    FindingState,
    FindingTransition,
    FollowUpKind,
    Opportunity,
    OutboxState,
    Rep,
    Rule,
    Severity,
    SubjectKind,
    TaskCompletion,
    utcnow,
)
from tests.e2e.api_support import CALLS_RULE, Api, api
from tests.e2e.test_api_reps import AS_OF, SLIPPING, calls_org

__all__ = ["api"]
PROBLEM = "application/problem+json"
OPENED = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
MEETINGS_RULE = {
    **CALLS_RULE,
    "key": "meetings-per-week",
    "name": "Meetings per week",
    "metric": {"metric": "meetings_held"},
    "standard": {"basis": "absolute", "min": 3},
}


def _org(store: Store) -> dict[str, Any]:
    """Two managers, three reps in two teams, one deal, two rules; row ids by name."""
    with store.unit_of_work() as session:
        connection = add_connection(session, "acme", CrmKind.SALESFORCE, {}).id
        other = add_connection(session, "beta", CrmKind.HUBSPOT, {}).id
        reps = {}
        for crm_id, manager, team, where in (
            ("M1", None, None, connection),
            ("M2", None, None, connection),
            ("ANA", "M1", "East", connection),
            ("BEN", "M1", "West", connection),
            ("CAL", "M2", "East", connection),
            ("DOT", "X9", "East", other),
        ):
            rep = Rep(
                connection_id=where,
                crm_id=crm_id,
                name=f"{crm_id.title()} Rep",
                manager_crm_id=manager,
                team=team,
            )
            session.add(rep)
            session.flush()
            reps[crm_id] = rep.id
        deal = Opportunity(
            connection_id=connection,
            crm_id="OPP1",
            name="Big deal",
            stage="Proposal",
            stage_category=StageCategory.OPEN,
            owner_crm_id="ANA",
        )
        session.add(deal)
        apply_rule(session, CALLS_RULE)
        apply_rule(session, MEETINGS_RULE)
        session.flush()
        rules = dict(session.execute(select(Rule.key, Rule.id)).all())
    return {"connection": connection, "other": other, "reps": reps, "deal": deal.id, "rules": rules}


def _finding(store: Store, org: dict[str, Any], rep: str, **values: Any) -> int:
    row = {
        "rule_id": org["rules"][values.pop("rule", "calls-per-week")],
        "rule_version": 1,
        "subject_kind": SubjectKind.REP,
        "rep_id": org["reps"][rep],
        "state": FindingState.OPEN,
        "severity": Severity.MEDIUM,
        "period_start": date(2026, 9, 28),
        "period_end": date(2026, 10, 4),
        "observed": 8.0,
        "standard": {"min": 20, "max": None},
        "evidence": {"summary": f"{rep} made 8 calls"},
        "opened_at": OPENED,
        "updated_at": OPENED,
        **values,
    }
    with store.unit_of_work() as session:
        finding = Finding(**row)
        session.add(finding)
        session.flush()
        return finding.id


def _ids(api: Api, query: str, headers: dict[str, str]) -> list[int]:
    answer = api.client.get(f"/v1/findings?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [finding["id"] for finding in answer.json()["data"]]


def test_each_filter_narrows_the_findings_list(api: Api):
    org = _org(api.store)
    ana = _finding(api.store, org, "ANA", severity=Severity.HIGH)
    ben = _finding(
        api.store, org, "BEN", rule="meetings-per-week", opened_at=OPENED + timedelta(days=7)
    )
    cal = _finding(
        api.store,
        org,
        "CAL",
        state=FindingState.SNOOZED,
        snoozed_until=utcnow() + timedelta(days=3),
    )
    deal = _finding(
        api.store,
        org,
        "ANA",
        subject_kind=SubjectKind.DEAL,
        opportunity_id=org["deal"],
        rule="meetings-per-week",
        state=FindingState.RESOLVED,
        resolved_at=OPENED + timedelta(days=14),
    )
    dot = _finding(api.store, org, "DOT", opened_at=OPENED - timedelta(days=7))
    reader = api.auth("findings:read")

    assert _ids(api, "", reader) == [dot, deal, cal, ben, ana]  # newest first
    assert _ids(api, "state=open", reader) == [dot, ben, ana]
    assert _ids(api, "state=snoozed&state=resolved", reader) == [deal, cal]
    assert _ids(api, "rule=meetings-per-week", reader) == [deal, ben]
    assert _ids(api, "rep=ANA", reader) == [deal, ana]
    assert _ids(api, "manager=M1", reader) == [deal, ben, ana]
    assert _ids(api, "team=East", reader) == [dot, deal, cal, ana]
    assert _ids(api, "severity=high", reader) == [ana]
    assert _ids(api, "opened_after=2026-10-06T00:00:00Z", reader) == [ben]
    assert _ids(api, "opened_before=2026-10-05T00:00:00%2B00:00", reader) == [dot]
    assert _ids(api, f"connection={org['other']}", reader) == [dot]
    assert _ids(api, f"team=East&state=open&connection={org['connection']}", reader) == [ana]

    first = api.client.get("/v1/findings?limit=2", headers=reader).json()
    second = api.client.get(
        f"/v1/findings?limit=2&cursor={first['next_cursor']}", headers=reader
    ).json()
    assert [f["id"] for f in first["data"] + second["data"]] == [dot, deal, cal, ben]
    shown = api.client.get("/v1/findings?rep=ANA&state=resolved", headers=reader).json()["data"]
    assert shown[0]["deal"] == {"crm_id": "OPP1", "name": "Big deal"}
    assert shown[0]["rep"] == {"crm_id": "ANA", "name": "Ana Rep"}
    assert shown[0]["rule"] == {"key": "meetings-per-week", "version": 1}
    bad = api.client.get("/v1/findings?state=gone&opened_after=yesterday", headers=reader)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"state.0", "opened_after"}


def test_snoozing_and_unsnoozing_are_audited_in_the_history_and_refused_out_of_turn(api: Api):
    org = _org(api.store)
    finding = _finding(api.store, org, "ANA")
    resolved = _finding(api.store, org, "BEN", state=FindingState.RESOLVED, resolved_at=OPENED)
    with api.store.unit_of_work() as session:
        session.add(
            FindingTransition(
                finding_id=finding,
                at=OPENED,
                action="opened",
                state=FindingState.OPEN,
                severity=Severity.MEDIUM,
                rule_version=1,
                observed=8.0,
                evidence={},
            )
        )
    writer = api.auth("findings:write", "findings:read", name="lee")
    until = (utcnow() + timedelta(days=14)).isoformat()

    snoozed = api.client.post(
        f"/v1/findings/{finding}:snooze",
        headers=writer,
        json={"until": until, "reason": "On leave for two weeks"},
    )
    again = api.client.post(
        f"/v1/findings/{finding}:snooze", headers=writer, json={"until": until, "reason": "again"}
    )
    woken = api.client.post(f"/v1/findings/{finding}:unsnooze", headers=writer)
    twice = api.client.post(f"/v1/findings/{finding}:unsnooze", headers=writer)

    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["state"] == "snoozed"
    assert datetime.fromisoformat(snoozed.json()["snoozed_until"]) == datetime.fromisoformat(until)
    assert (again.status_code, twice.status_code) == (409, 409)
    assert again.headers["content-type"] == PROBLEM
    assert "snoozed until" in again.json()["detail"]
    assert (woken.status_code, woken.json()["state"], woken.json()["snoozed_until"]) == (
        200,
        "open",
        None,
    )
    history = api.client.get(f"/v1/findings/{finding}", headers=writer).json()["transitions"]
    assert [(t["action"], t["state"]) for t in history] == [
        ("opened", "open"),
        ("snoozed", "snoozed"),
        ("unsnoozed", "open"),
    ]
    with api.store.unit_of_work() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "finding").order_by(AuditEntry.id)
        ).all()
    assert [(a.action, a.actor, a.entity_id) for a in audit] == [
        ("finding.snoozed", "lee", str(finding)),
        ("finding.unsnoozed", "lee", str(finding)),
    ]
    assert audit[0].details["reason"] == "On leave for two weeks"
    assert audit[0].details["before"] == {"state": "open", "snoozed_until": None}
    assert audit[1].details["after"] == {"state": "open", "snoozed_until": None}

    body = {"until": until, "reason": "x"}
    assert (
        api.client.post(f"/v1/findings/{resolved}:snooze", headers=writer, json=body).status_code
        == 409
    )
    assert (
        api.client.post("/v1/findings/999999:snooze", headers=writer, json=body).status_code == 404
    )
    far = {"until": (utcnow() + timedelta(days=91)).isoformat(), "reason": "x"}
    past = {"until": "2020-01-01T00:00:00Z", "reason": "x"}
    for wrong in (far, past, {"until": until, "reason": ""}, {"until": "2030-01-01T00:00"}):
        answer = api.client.post(f"/v1/findings/{finding}:snooze", headers=writer, json=wrong)
        assert answer.status_code == 422, wrong
    reader = api.auth("findings:read")
    refused = api.client.post(f"/v1/findings/{finding}:snooze", headers=reader, json=body)
    assert refused.status_code == 403


def test_a_lapsed_snooze_shows_may_be_snoozed_again_and_is_reopened_for_evaluation(api: Api):
    org = _org(api.store)
    lapsed = _finding(
        api.store,
        org,
        "ANA",
        state=FindingState.SNOOZED,
        snoozed_until=utcnow() - timedelta(hours=1),
    )
    other = _finding(
        api.store,
        org,
        "BEN",
        state=FindingState.SNOOZED,
        snoozed_until=utcnow() - timedelta(hours=1),
    )
    headers = api.auth("findings:write", "findings:read")

    shown = api.client.get(f"/v1/findings/{lapsed}", headers=headers).json()
    assert (shown["state"], shown["snooze_lapsed"]) == ("snoozed", True)
    until = (utcnow() + timedelta(days=7)).isoformat()
    again = api.client.post(
        f"/v1/findings/{lapsed}:snooze",
        headers=headers,
        json={"until": until, "reason": "still away"},
    )
    assert (again.status_code, again.json()["snooze_lapsed"]) == (200, False)

    with api.store.unit_of_work() as session:
        reopened = reopen_lapsed_snoozes(session, org["connection"], utcnow())
    assert reopened == [other]
    history = api.client.get(f"/v1/findings/{other}", headers=headers).json()
    assert (history["state"], history["snoozed_until"]) == ("open", None)
    assert [t["action"] for t in history["transitions"]] == ["unsnoozed"]


def _task(session: Any, org: dict[str, Any], **values: Any) -> CrmWrite:
    key = f"task-{values.get('rule_key', 'calls-per-week')}-{values.get('rep_crm_id', 'ANA')}"
    row = {
        "connection_id": org["connection"],
        "idempotency_key": key + str(values.pop("n", 0)),
        "rule_key": "calls-per-week",
        "rep_crm_id": "ANA",
        "assignee_crm_id": "M1",
        "budget_owner_crm_id": "M1",
        "task_kind": "coaching",
        "payload": {"subject": "Coaching: calls", "due_date": "2026-10-08", "priority": "high"},
        "state": OutboxState.PENDING,
        "attempts": 0,
        **values,
    }
    task = CrmWrite(**row)
    session.add(task)
    session.flush()
    return task


def test_tasks_are_listed_by_filter_with_their_follow_ups(api: Api):
    org = _org(api.store)
    finding = _finding(api.store, org, "ANA")
    with api.store.unit_of_work() as session:
        done = _task(
            session,
            org,
            finding_id=finding,
            state=OutboxState.DONE,
            attempts=1,
            crm_record_id="00T1",
            delivered_at=OPENED,
        )
        hygiene = _task(
            session,
            org,
            task_kind="hygiene",
            assignee_crm_id="BEN",
            budget_owner_crm_id="BEN",
            rep_crm_id="BEN",
            opportunity_crm_id="OPP1",
            rule_key="meetings-per-week",
        )
        failed = _task(
            session, org, n=1, state=OutboxState.FAILED, attempts=5, last_error="CRM said no"
        )
        for kind, state, outcome in (
            (FollowUpKind.NOTIFY, OutboxState.DONE, "sent"),
            (FollowUpKind.COMPLETE, OutboxState.PENDING, None),
        ):
            session.add(
                CrmFollowUp(
                    connection_id=org["connection"],
                    task_id=done.id,
                    idempotency_key=f"{kind}-{done.id}",
                    kind=kind,
                    recipient_crm_id="M1",
                    payload={},
                    state=state,
                    outcome=outcome,
                )
            )
        ids = (done.id, hygiene.id, failed.id)
    reader = api.auth("findings:read")

    def listed(query: str) -> list[int]:
        answer = api.client.get(f"/v1/tasks?{query}", headers=reader)
        assert answer.status_code == 200, answer.text
        return [task["id"] for task in answer.json()["data"]]

    assert listed("") == sorted(ids, reverse=True)
    assert listed("state=done&state=failed") == [failed.id, done.id]
    assert listed("kind=hygiene") == [hygiene.id]
    assert listed("assignee=M1") == [failed.id, done.id]
    assert listed("rule=meetings-per-week") == [hygiene.id]
    assert listed(f"finding={finding}") == [done.id]
    assert listed("limit=1") == [failed.id]
    shown = api.client.get(f"/v1/tasks?finding={finding}", headers=reader).json()["data"][0]
    assert (shown["kind"], shown["crm_record_id"], shown["subject"]) == (
        "coaching",
        "00T1",
        "Coaching: calls",
    )
    assert [(f["kind"], f["state"], f["outcome"]) for f in shown["followups"]] == [
        ("notify", "done", "sent"),
        ("complete", "pending", None),
    ]
    assert api.client.get("/v1/tasks?kind=other", headers=reader).status_code == 422


def test_the_coaching_report_counts_completions_days_and_recoveries(api: Api):
    org = _org(api.store)
    now = utcnow()
    delivered = now - timedelta(days=30)
    findings = []
    for n, (days, recovered_after) in enumerate(((2, 5), (4, None), (6, 40))):
        resolved_at = (
            None
            if recovered_after is None
            else (delivered + timedelta(days=days + recovered_after))
        )
        state = FindingState.OPEN if resolved_at is None else FindingState.RESOLVED
        finding = _finding(
            api.store, org, "ANA" if n != 1 else "BEN", state=state, resolved_at=resolved_at
        )
        findings.append((n, days, finding))
    with api.store.unit_of_work() as session:
        for n, days, finding in findings:
            _task(
                session,
                org,
                n=n,
                finding_id=finding,
                state=OutboxState.DONE,
                delivered_at=delivered,
                completion=TaskCompletion.MANAGER,
                completed_at=delivered + timedelta(days=days),
            )
        _task(session, org, n=7, state=OutboxState.DONE, delivered_at=delivered)  # open in CRM
        _task(session, org, n=8, state=OutboxState.DONE, delivered_at=now - timedelta(days=400))
    reader = api.auth("findings:read")

    report = api.client.get(f"/v1/coaching-report?connection={org['connection']}", headers=reader)

    assert report.status_code == 200, report.text
    (line,) = report.json()["lines"]
    # calls-per-week is weekly with resolve_after 2: recovered within 3 weeks of completion
    assert line == {
        "manager_crm_id": "M1",
        "manager_name": "M1 Rep",
        "rule_key": "calls-per-week",
        "created": 4,
        "completed": 3,
        "median_days_to_complete": 4.0,
        "recovered": 1,
        "recovered_share": 1 / 3,
    }
    every = api.client.get("/v1/coaching-report?days=500", headers=reader).json()
    assert every["connection_ids"] == [org["connection"], org["other"]]
    assert every["lines"][0]["created"] == 5
    missing = api.client.get("/v1/coaching-report?connection=999", headers=reader)
    assert missing.status_code == 404


def test_an_evaluated_finding_snoozed_through_the_api_is_not_coached_until_unsnoozed(api: Api):
    connection_id = calls_org(api.store)
    evaluate_connection(api.store, connection_id, as_of=AS_OF)
    headers = api.auth("findings:write", "findings:read")
    (finding,) = api.client.get(f"/v1/findings?rep={SLIPPING}", headers=headers).json()["data"]
    until = (utcnow() + timedelta(days=30)).isoformat()
    body = {"until": until, "reason": "Coached in person"}
    assert (
        api.client.post(
            f"/v1/findings/{finding['id']}:snooze", headers=headers, json=body
        ).status_code
        == 200
    )

    evaluate_connection(api.store, connection_id, as_of=AS_OF + timedelta(days=15))
    snoozed_tasks = _tasks_of(api, finding["id"], headers)
    api.client.post(f"/v1/findings/{finding['id']}:unsnooze", headers=headers)
    evaluate_connection(api.store, connection_id, as_of=AS_OF + timedelta(days=16))

    assert len(snoozed_tasks) == 1  # past its 14-day cadence, but snoozed: no new task
    assert len(_tasks_of(api, finding["id"], headers)) == 2
    shown = api.client.get(f"/v1/findings/{finding['id']}", headers=headers).json()
    assert [t["action"] for t in shown["transitions"]] == ["opened", "snoozed", "unsnoozed"]
    assert shown["transitions"][0]["evidence"]["rule"]["key"] == "calls-per-week"


def _tasks_of(api: Api, finding_id: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = api.client.get(f"/v1/tasks?finding={finding_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["data"]
    return tasks
