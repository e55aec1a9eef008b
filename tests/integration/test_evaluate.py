"""Evaluation end to end on the store (SQLite and PostgreSQL): rules in, findings and
queued coaching tasks and webhook events out, idempotent, resolvable, dry-runnable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from bench._evaluate_load import load_org, load_records
from bench.org_records import BenchOrg, OrgShape
from connectors.fake import FakeConnector
from connectors.records import ActivityKind, Entity, StageCategory
from rules.evaluation import CreateCoachingTask, OpenFinding
from rules.periods import PeriodUnit, complete_periods
from service.evaluation.run import evaluate_connection, sellers
from service.outbox.crm_followups import FollowUpWorker
from service.store import Store, sync_state
from service.store.connections import add_connection
from service.store.findings import coaching_history, live_findings
from service.store.plan_writer import task_payload
from service.store.sql_metric_source import SqlMetricSource
from service.store.stored_rules import apply_rule, current_rules
from service.store.sync_state import RunCounts
from service.store.tables import (
    Activity,
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
    SyncStatus,
    WebhookEvent,
)

#: A Wednesday; the last four complete weeks are the window.
AS_OF = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
CALLS_RULE: dict[str, Any] = {
    "key": "calls-per-week",
    "name": "Calls per week",
    "level": "activity",
    "drives": "Pipeline created",
    "metric": {"metric": "activity_count", "kinds": ["call"]},
    "period": {"unit": "week"},
    "window": 4,
    "standard": {"basis": "absolute", "min": 20},
    "drift": {"k": 2, "n": 3, "resolve_after": 2},
    "coaching": {"what_good_looks_like": "A call block every morning.", "cadence_days": 14},
    "alert": True,
}
MANAGER, STEADY, SLIPPING = "005MGR", "005STEADY", "005SLIP"


def _seed(store: Store, calls_per_week: dict[str, list[int]]) -> int:
    """A manager with two reps and their calls in each of the last weeks (oldest first)."""
    weeks = complete_periods(AS_OF, PeriodUnit.WEEK, 8)
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "acme", CrmKind.SALESFORCE, {}).id
        for crm_id, name, manager in (
            (MANAGER, "Mia Manager", None),
            (STEADY, "Sam Steady", MANAGER),
            (SLIPPING, "Sid Slipping", MANAGER),
        ):
            session.add(
                Rep(connection_id=connection_id, crm_id=crm_id, name=name, manager_crm_id=manager)
            )
        rows = []
        for rep, counts in calls_per_week.items():
            for week, count in zip(weeks[-len(counts) :], counts, strict=True):
                rows += [
                    {
                        "connection_id": connection_id,
                        "crm_id": f"{rep}-{week.first_day}-{n}",
                        "kind": ActivityKind.CALL,
                        "rep_crm_id": rep,
                        "occurred_at": week.start + timedelta(days=1, minutes=n),
                    }
                    for n in range(count)
                ]
        session.execute(insert(Activity), rows)
        apply_rule(session, CALLS_RULE)
    return connection_id


def _counts(store: Store) -> dict[str, Any]:
    with store.unit_of_work() as session:
        return {
            "findings": session.execute(
                select(Finding.state, Finding.severity, Finding.updated_at, Finding.evidence)
            ).all(),
            "transitions": session.scalar(select(func.count()).select_from(FindingTransition)),
            "tasks": session.execute(select(CrmWrite.idempotency_key, CrmWrite.payload)).all(),
            "events": session.scalars(select(WebhookEvent.event_id)).all(),
        }


@pytest.fixture
def slipping(store: Store) -> int:
    return _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 25, 25, 12, 10, 8]})


def test_a_sustained_drop_opens_a_finding_queues_a_task_for_the_manager_and_an_event(
    store: Store, slipping: int
):
    result = evaluate_connection(store, slipping, as_of=AS_OF)

    assert len(result.applied.opened) == 1
    with store.unit_of_work() as session:
        finding = session.scalars(select(Finding)).one()
        rep = session.get(Rep, finding.rep_id)
        task = session.scalars(select(CrmWrite)).one()
        event = session.scalars(select(WebhookEvent)).one()
        transition = session.scalars(select(FindingTransition)).one()
    assert rep is not None
    assert rep.crm_id == SLIPPING
    assert finding.state is FindingState.OPEN
    assert finding.observed == 8
    assert finding.standard == {"min": 20, "max": None}
    assert finding.evidence["rule"]["key"] == "calls-per-week"
    assert [p["value"] for p in finding.evidence["periods"]] == [25, 12, 10, 8]
    assert task.assignee_crm_id == MANAGER
    assert task.rep_crm_id == SLIPPING
    assert task.finding_id == finding.id
    assert task.payload["key"] == task.idempotency_key
    assert "A call block every morning." in task.payload["body"]
    assert event.type == "finding.opened"
    assert event.payload["finding_id"] == finding.id
    assert transition.action == "opened"


def test_evaluating_twice_at_the_same_moment_changes_nothing(store: Store, slipping: int):
    evaluate_connection(store, slipping, as_of=AS_OF)
    before = _counts(store)

    again = evaluate_connection(store, slipping, as_of=AS_OF)

    assert _counts(store) == before
    assert again.applied.opened == []
    assert again.applied.tasks_queued == 0
    assert again.applied.kept == 1


def test_a_dry_run_reports_what_it_would_do_and_stores_nothing(store: Store, slipping: int):
    result = evaluate_connection(store, slipping, as_of=AS_OF, dry_run=True)

    assert len(result.applied.opened) == 1
    assert result.applied.tasks_queued == 1
    assert _counts(store) == {"findings": [], "transitions": 0, "tasks": [], "events": []}


def test_the_finding_resolves_once_the_rep_is_back_for_enough_periods(store: Store):
    connection_id = _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 12, 10, 8, 25, 25]})
    two_weeks_back = AS_OF - timedelta(days=14)
    opened = evaluate_connection(store, connection_id, as_of=two_weeks_back)
    assert len(opened.applied.opened) == 1

    resolved = evaluate_connection(store, connection_id, as_of=AS_OF)

    assert resolved.applied.resolved == opened.applied.opened
    with store.unit_of_work() as session:
        finding = session.scalars(select(Finding)).one()
        transitions = session.scalars(select(FindingTransition).order_by(FindingTransition.id))
        opened_then, resolved_now = transitions.all()
        assert finding.state is FindingState.RESOLVED
        assert finding.resolved_at == AS_OF
        assert (opened_then.action, resolved_now.action) == ("opened", "resolved")
        # Each transition holds the finding as it stood then, not as it stands now.
        assert opened_then.state is FindingState.OPEN
        assert "resolution" not in opened_then.evidence
        assert opened_then.at == two_weeks_back
        assert resolved_now.state is FindingState.RESOLVED
        assert resolved_now.evidence == finding.evidence
        assert resolved_now.evidence["resolution"]
        assert resolved_now.observed == finding.observed != opened_then.observed
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 2


def test_a_task_never_sent_is_cancelled_when_its_finding_resolves_one_tried_is_not(
    store: Store,
):
    """Two findings open with a task each; one task's delivery was attempted (it may be
    in the CRM), the other never left the outbox. Both findings resolve."""
    connection_id = _seed(
        store,
        {STEADY: [25, 25, 25, 12, 10, 8, 25, 25], SLIPPING: [25, 25, 25, 12, 10, 8, 25, 25]},
    )
    evaluate_connection(store, connection_id, as_of=AS_OF - timedelta(days=14))
    with store.unit_of_work() as session:
        tried, untouched = session.scalars(select(CrmWrite).order_by(CrmWrite.id)).all()
        tried.attempts = 1  # a run claimed it and died: it may exist in the CRM

    resolved = evaluate_connection(store, connection_id, as_of=AS_OF)

    assert len(resolved.applied.resolved) == 2
    with store.unit_of_work() as session:
        states = dict(session.execute(select(CrmWrite.id, CrmWrite.state)).all())
    assert states == {tried.id: OutboxState.PENDING, untouched.id: OutboxState.CANCELLED}


def test_the_coaching_cadence_holds_back_a_second_task_within_its_window(store: Store):
    connection_id = _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 12, 10, 8, 6, 5]})
    evaluate_connection(store, connection_id, as_of=AS_OF - timedelta(days=7))
    within = evaluate_connection(store, connection_id, as_of=AS_OF)
    after = evaluate_connection(store, connection_id, as_of=AS_OF + timedelta(days=7))

    assert within.applied.tasks_queued == 0
    assert after.applied.tasks_queued == 1
    with store.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(CrmWrite)) == 2
        assert session.scalar(select(func.count()).select_from(Finding)) == 1


def test_a_disabled_rule_resolves_its_live_findings(store: Store, slipping: int):
    evaluate_connection(store, slipping, as_of=AS_OF)
    with store.unit_of_work() as session:
        applied = apply_rule(session, {**CALLS_RULE, "enabled": False})
    assert applied.outcome == "updated"
    assert applied.version == 2

    result = evaluate_connection(store, slipping, as_of=AS_OF)

    assert len(result.applied.resolved) == 1


def test_applying_an_unchanged_rule_adds_no_version_and_a_changed_one_does(store: Store):
    with store.unit_of_work() as session:
        add_connection(session, "acme", CrmKind.SALESFORCE, {})
        assert apply_rule(session, CALLS_RULE).outcome == "created"
        assert apply_rule(session, CALLS_RULE).outcome == "unchanged"
        changed = apply_rule(session, {**CALLS_RULE, "name": "Calls each week"})
        assert (changed.outcome, changed.version) == ("updated", 2)
        (stored,) = current_rules(session)
        assert stored.version == 2
        assert stored.document["name"] == "Calls each week"


def test_only_sellers_are_judged_not_users_without_deals_or_activities(store: Store):
    """An admin with no deals and no activities is no seller; an owner of a deal and a
    rep who only logs calls are."""
    connection_id = _seed(store, {SLIPPING: [25, 25, 5, 5]})
    with store.unit_of_work() as session:
        session.add(Rep(connection_id=connection_id, crm_id="005ADMIN", name="Ada Admin"))
        session.add(Rep(connection_id=connection_id, crm_id="005OWNER", name="Otto Owner"))
        session.add(
            Opportunity(
                connection_id=connection_id,
                crm_id="006DEAL",
                name="A deal",
                owner_crm_id="005OWNER",
                stage="Prospecting",
                stage_category=StageCategory.OPEN,
            )
        )
    with store.unit_of_work() as session:
        assert sellers(session, connection_id) == {SLIPPING, "005OWNER"}


def test_what_is_stored_is_what_the_plan_said_for_every_finding_task_and_event(store: Store):
    """The batched writes (a JSON document per table on PostgreSQL, ordered batches on
    SQLite) store each intent's values exactly: ids matched to the right finding, dates,
    numbers, severities and evidence with hostile text intact."""
    weeks = complete_periods(AS_OF, PeriodUnit.WEEK, 8)
    slipping = {f"005S{n:03d}": [25] * 5 + [12 - n % 5, 10 - n % 7, 8 - n % 8] for n in range(40)}
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "acme", CrmKind.SALESFORCE, {}).id
        session.add(Rep(connection_id=connection_id, crm_id=MANAGER, name="Mia Manager"))
        for n, rep in enumerate(slipping):
            name = f'Rep {n} "Ünïcode" 🚀 \\ <b>'
            session.add(
                Rep(connection_id=connection_id, crm_id=rep, name=name, manager_crm_id=MANAGER)
            )
        rows = [
            {
                "connection_id": connection_id,
                "crm_id": f"{rep}-{week.first_day}-{n}",
                "kind": ActivityKind.CALL,
                "rep_crm_id": rep,
                "occurred_at": week.start + timedelta(days=1, minutes=n),
            }
            for rep, counts in slipping.items()
            for week, count in zip(weeks, counts, strict=True)
            for n in range(count)
        ]
        session.execute(insert(Activity), rows)
        apply_rule(session, CALLS_RULE)

    result = evaluate_connection(store, connection_id, as_of=AS_OF)

    opened = {intent.subject.rep_crm_id: intent for intent in result.plan.of_type(OpenFinding)}
    tasks = {task.key: task for task in result.plan.of_type(CreateCoachingTask)}
    assert len(opened) == len(slipping)
    assert tasks
    with store.unit_of_work() as session:
        findings = session.execute(select(Finding, Rep.crm_id).join(Rep)).all()
        transitions = {t.finding_id: t for t in session.scalars(select(FindingTransition))}
        events = {e.payload["finding_id"]: e for e in session.scalars(select(WebhookEvent))}
        stored_tasks = session.scalars(select(CrmWrite)).all()
    assert len(findings) == len(opened)
    for finding, rep in findings:
        intent = opened[rep]
        evidence = json.loads(json.dumps(intent.evidence, default=str))
        assert finding.evidence == evidence
        assert finding.evidence["subject"]["rep_name"].endswith('"Ünïcode" 🚀 \\ <b>')
        assert finding.observed == intent.observed
        assert finding.severity.value == intent.severity.value
        assert finding.rule_version == intent.rule_version
        assert finding.period_start == intent.period_start.date()
        assert finding.period_end == (intent.period_end - timedelta(microseconds=1)).date()
        assert finding.opened_at == AS_OF
        assert transitions[finding.id].evidence == evidence
        assert transitions[finding.id].observed == intent.observed
        assert events[finding.id].payload["evidence"] == evidence
        assert events[finding.id].created_at == AS_OF
    assert {task.idempotency_key for task in stored_tasks} == set(tasks)
    for stored in stored_tasks:
        assert stored.payload == task_payload(tasks[stored.idempotency_key])
        assert stored.task_kind == tasks[stored.idempotency_key].kind == "coaching"
        assert stored.finding_id in transitions
    assert (result.applied.tasks_queued, result.applied.hygiene_queued) == (len(tasks), 0)


SMALL_ORG = OrgShape(reps=10, managers=2, months=12, deal_scale=0.6)


@pytest.fixture
def pack_org(store: Store) -> int:
    """The benchmark's synthetic org, small, with the default pack applied."""
    org = BenchOrg(SMALL_ORG)
    connection_id, _ = load_org(store, org, 5000)
    activities = org.activities(0, 4000)
    load_records(
        store, connection_id, Entity.ACTIVITY, activities, batch_size=5000, now=org.shape.end
    )
    return connection_id


def test_reading_ahead_on_a_worker_gives_the_same_plan_as_reading_in_turn(
    store: Store, pack_org: int
):
    in_turn = evaluate_connection(
        store, pack_org, as_of=SMALL_ORG.end, dry_run=True, read_ahead=False
    )
    ahead = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end, dry_run=True)

    assert ahead.plan == in_turn.plan
    # the whole plan is compared, scorecard included: every rule's reads count
    assert len(ahead.plan.scorecard.rule_keys) == 10
    assert len(ahead.plan.of_type(OpenFinding)) > 5
    rules = {intent.rule_key for intent in ahead.plan.of_type(OpenFinding)}
    assert len(rules) >= 3

    applied = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end)
    again = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end, read_ahead=False)
    assert applied.plan.intents == ahead.plan.intents
    assert not again.plan.of_type(OpenFinding)


class _FailingSource(SqlMetricSource):
    """The SQL source, failing on its n-th metric read (after the stage spans exist)."""

    def __init__(self, session: Any, connection_id: int, fail_at: int, as_of: datetime) -> None:
        super().__init__(session, connection_id, as_of=as_of)
        self._left = fail_at

    def measure(self, metric: Any, periods: Any) -> Any:
        self._left -= 1
        if self._left == 0:
            raise RuntimeError("the database went away")
        return super().measure(metric, periods)


@pytest.mark.parametrize("read_ahead", [True, False])
def test_a_read_failing_mid_evaluation_stores_nothing_and_the_next_run_is_whole(
    store: Store, pack_org: int, read_ahead: bool
):
    def failing(session: Any, connection_id: int, *, as_of: datetime) -> SqlMetricSource:
        return _FailingSource(session, connection_id, fail_at=6, as_of=as_of)

    with pytest.raises(RuntimeError, match="went away"):
        evaluate_connection(
            store, pack_org, as_of=SMALL_ORG.end, source_factory=failing, read_ahead=read_ahead
        )
    assert _counts(store) == {"findings": [], "transitions": 0, "tasks": [], "events": []}

    result = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end, read_ahead=read_ahead)
    counts = _counts(store)
    assert len(counts["findings"]) == len(result.plan.of_type(OpenFinding)) > 5
    assert len(counts["tasks"]) == len(result.plan.of_type(CreateCoachingTask))


def _synced(store: Store, connection_id: int, at: datetime, failed: set[str]) -> None:
    """Sync records as a sync would leave them: one stream per entity, some failed."""
    streams = {
        "users": Entity.REP,
        "opportunities": Entity.OPPORTUNITY,
        "opportunity_history": Entity.OPPORTUNITY_CHANGE,
        "tasks": Entity.ACTIVITY,
        "quotas": Entity.QUOTA,
    }
    with store.unit_of_work() as session:
        for name, entity in streams.items():
            sync_state.begin_run(session, connection_id, name, now=at, entity=entity)
            status = SyncStatus.FAILED if name in failed else SyncStatus.SUCCEEDED
            error = "DataError: boom" if name in failed else None
            sync_state.finish_run(
                session, connection_id, name, status, RunCounts(), now=at, error=error
            )


def _rules_with_findings(store: Store) -> set[str]:
    with store.unit_of_work() as session:
        return set(session.scalars(select(Rule.key).join(Finding, Finding.rule_id == Rule.id)))


def test_rules_reading_a_failed_stream_are_not_judged_and_the_others_are(
    store: Store, pack_org: int
):
    _synced(store, pack_org, SMALL_ORG.end, failed={"opportunities"})
    result = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end)

    deal_rules = {
        "pipeline-coverage", "pipeline-created-per-week", "win-rate", "days-in-stage",
        "close-date-pushes", "qualification-completeness", "quota-pace", "days-since-activity",
    }  # fmt: skip
    assert set(result.held_back) == deal_rules
    assert all(
        "stream opportunities failed: DataError: boom" in r for r in result.held_back.values()
    )
    assert result.rules_judged == 2
    assert not result.judged_nothing
    flagged = _rules_with_findings(store)
    assert flagged  # the activity rules were judged: the org drifts
    assert flagged.isdisjoint(deal_rules)
    with store.unit_of_work() as session:
        tasks = set(session.scalars(select(CrmWrite.rule_key)))
    assert tasks
    assert tasks.isdisjoint(deal_rules)


def test_a_failed_reps_stream_judges_nothing_and_leaves_open_findings_alone(
    store: Store, pack_org: int
):
    evaluate_connection(store, pack_org, as_of=SMALL_ORG.end)
    _synced(store, pack_org, SMALL_ORG.end, failed={"users"})  # queues sync.failed
    before = _counts(store)
    later = SMALL_ORG.end + timedelta(days=7)
    result = evaluate_connection(store, pack_org, as_of=later, max_data_age=timedelta(days=30))
    assert result.judged_nothing
    assert _counts(store) == before  # nothing opened, escalated or resolved; no task, no event


def test_data_older_than_the_allowed_age_holds_its_rules_back(store: Store, pack_org: int):
    _synced(store, pack_org, SMALL_ORG.end - timedelta(days=5), failed=set())
    result = evaluate_connection(
        store, pack_org, as_of=SMALL_ORG.end, max_data_age=timedelta(days=3)
    )
    assert result.judged_nothing
    assert "last synced" in next(iter(result.held_back.values()))
    fresh = evaluate_connection(
        store, pack_org, as_of=SMALL_ORG.end, max_data_age=timedelta(days=6), dry_run=True
    )
    assert fresh.held_back == {}
    assert fresh.rules_judged == 10


def test_a_finding_whose_gap_narrows_is_eased_recorded_and_counted(store: Store, slipping: int):
    first = evaluate_connection(store, slipping, as_of=AS_OF)
    (opened,) = first.plan.of_type(OpenFinding)
    weeks = complete_periods(AS_OF, PeriodUnit.WEEK, 3)
    with store.unit_of_work() as session:  # 12, 10, 8 calls become 19, 19, 19: still short
        session.execute(
            insert(Activity),
            [
                {
                    "connection_id": slipping,
                    "crm_id": f"late-{week.first_day}-{n}",
                    "kind": ActivityKind.CALL,
                    "rep_crm_id": SLIPPING,
                    "occurred_at": week.start + timedelta(days=2, minutes=n),
                }
                for week, extra in zip(weeks, (7, 9, 11), strict=True)
                for n in range(extra)
            ],
        )

    again = evaluate_connection(store, slipping, as_of=AS_OF)

    assert len(again.applied.eased) == 1
    assert not again.applied.opened
    assert not again.applied.resolved
    with store.unit_of_work() as session:
        actions = list(
            session.scalars(select(FindingTransition.action).order_by(FindingTransition.id))
        )
        severity = session.scalars(select(Finding.severity)).one()
    assert actions == ["opened", "eased"]
    assert severity.value != opened.severity.value


def test_an_own_baseline_finding_stores_its_anchor_and_tasks_their_kind(store: Store):
    connection_id = _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 25, 25, 12, 10, 8]})
    own = {**CALLS_RULE, "standard": {"basis": "own_baseline", "min": 0.7, "baseline_periods": 4}}
    with store.unit_of_work() as session:
        apply_rule(session, own)

    evaluate_connection(store, connection_id, as_of=AS_OF)

    with store.unit_of_work() as session:
        (live,) = live_findings(session, connection_id)
        assert (live.subject.rep_crm_id, live.baseline) == (SLIPPING, 25.0)
        assert session.scalar(select(Finding.baseline)) == 25.0
        assert session.scalars(select(CrmWrite.task_kind)).all() == ["coaching"]
        task = session.scalars(select(CrmWrite)).one()
        session.add(
            CrmWrite(
                connection_id=connection_id, idempotency_key="hygiene-1", rule_key="idle",
                rep_crm_id=STEADY, assignee_crm_id=STEADY, budget_owner_crm_id=STEADY,
                task_kind="hygiene", payload={}, created_at=task.created_at,
            )
        )  # fmt: skip
    with store.unit_of_work() as session:
        history = coaching_history(session, connection_id, AS_OF)
    assert dict(history.tasks_this_week) == {MANAGER: 1}
    assert dict(history.hygiene_this_week) == {STEADY: 1}


def test_the_default_pack_queues_hygiene_for_deal_owners_apart_from_coaching(
    store: Store, pack_org: int
):
    result = evaluate_connection(store, pack_org, as_of=SMALL_ORG.end)

    planned = result.plan.of_type(CreateCoachingTask)
    hygiene = [task for task in planned if task.kind == "hygiene"]
    assert hygiene, "the small org has idle deals"
    assert all(task.budget_owner_crm_id == task.rep_crm_id for task in hygiene)
    assert result.applied.hygiene_queued == len(hygiene)
    assert result.applied.tasks_queued == len(planned)
    per_rep: dict[str, int] = {}
    for task in hygiene:
        per_rep[task.rep_crm_id] = per_rep.get(task.rep_crm_id, 0) + 1
    assert max(per_rep.values()) <= 2  # DRIFTCOACH_WEEKLY_HYGIENE_BUDGET's default
    with store.unit_of_work() as session:
        kinds = session.execute(
            select(CrmWrite.task_kind, func.count()).group_by(CrmWrite.task_kind)
        ).all()
    assert dict(kinds).get("hygiene") == len(hygiene)


def test_a_resolution_completes_a_task_that_may_be_in_the_crm_with_a_dated_note(store: Store):
    connection_id = _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 12, 10, 8, 25, 25]})
    evaluate_connection(store, connection_id, as_of=AS_OF - timedelta(days=14))
    with store.unit_of_work() as session:
        (task,) = session.scalars(select(CrmWrite)).all()
        task.state, task.attempts, task.crm_record_id = OutboxState.DONE, 1, "00T000000000001"

    evaluate_connection(store, connection_id, as_of=AS_OF)

    with store.unit_of_work() as session:
        alert, followup = session.scalars(select(CrmFollowUp).order_by(CrmFollowUp.id)).all()
        # opened at high severity: its alert waited for the task, and is stale now
        assert (alert.kind, alert.state) == (FollowUpKind.NOTIFY, OutboxState.CANCELLED)
        assert (followup.task_id, followup.kind) == (task.id, FollowUpKind.COMPLETE)
        assert followup.payload["note"].startswith("Closed by driftcoach on 2026-11-18: ")
        assert "back inside the standard (25, standard at least 20" in followup.payload["note"]
    fake = FakeConnector()
    fake.task_states["00T000000000001"] = "open"
    counts = FollowUpWorker(store, connection_id, fake).run()
    assert counts.completed == 1
    assert fake.task_states["00T000000000001"] == "completed"


def test_an_escalation_updates_the_delivered_task_and_alerts_the_manager(store: Store):
    connection_id = _seed(store, {STEADY: [25] * 8, SLIPPING: [25, 25, 25, 25, 25, 15, 14, 1]})
    first = evaluate_connection(store, connection_id, as_of=AS_OF - timedelta(days=7))
    assert first.applied.followups.alerts == 0  # opened below the alert severity
    with store.unit_of_work() as session:
        (task,) = session.scalars(select(CrmWrite)).all()
        assert task.payload["severity"] != "high"
        task.state, task.attempts, task.crm_record_id = OutboxState.DONE, 1, "00T000000000002"

    later = evaluate_connection(store, connection_id, as_of=AS_OF)

    assert later.applied.escalated
    assert later.applied.tasks_queued == 0  # the same cadence window: no second task
    assert (later.applied.followups.updates, later.applied.followups.alerts) == (1, 1)
    fake = FakeConnector()
    fake.task_states["00T000000000002"] = "open"
    counts = FollowUpWorker(store, connection_id, fake).run()
    assert (counts.updated, counts.alerted) == (1, 1)
    (change,) = fake.task_changes
    assert change.priority is not None
    assert change.priority.value == "high"
    (alert,) = fake.alerts
    assert (alert.recipient_crm_id, alert.task_crm_id) == (MANAGER, "00T000000000002")
    assert alert.title.startswith("High: ")


def test_a_snooze_whose_time_passed_ends_at_the_next_evaluation(store: Store, slipping: int):
    evaluate_connection(store, slipping, as_of=AS_OF - timedelta(days=7))
    with store.unit_of_work() as session:
        finding = session.scalars(select(Finding)).one()
        finding.state, finding.snoozed_until = FindingState.SNOOZED, AS_OF - timedelta(days=1)

    evaluate_connection(store, slipping, as_of=AS_OF)

    with store.unit_of_work() as session:
        finding = session.scalars(select(Finding)).one()
        assert finding.state is FindingState.OPEN
        actions = session.scalars(
            select(FindingTransition.action).order_by(FindingTransition.id)
        ).all()
        assert "unsnoozed" in actions
