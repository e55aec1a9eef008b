"""driftcoach's own tasks, synced back from the CRM, are not the rep's activities: not in
activity counts, not days at work, not the last activity on a deal (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.records import ActivityKind, StageCategory
from rules.metrics import ActiveDays, ActivityCount, DaysSinceActivity, MetricSpec, SubjectKey
from rules.periods import Period
from service.store import Store
from service.store.connections import add_connection
from service.store.sql_metric_source import SqlMetricSource
from service.store.tables import Activity, CrmKind, CrmWrite, Opportunity, OutboxState, Rep

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
WEEK = Period(MONDAY, MONDAY + timedelta(days=7))


def _seed(store: Store) -> int:
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "own", CrmKind.SALESFORCE, {}).id
        session.add(Rep(connection_id=connection_id, crm_id="005REP", name="Rep"))
        session.add(
            Opportunity(
                connection_id=connection_id, crm_id="006DEAL", name="A deal",
                owner_crm_id="005REP", stage="Prospecting", stage_category=StageCategory.OPEN,
                created_in_crm_at=MONDAY - timedelta(days=30),
            )
        )  # fmt: skip
        for crm_id, kind, day in (
            ("00TCALL", ActivityKind.CALL, 0),  # the rep's call on Monday, on the deal
            ("00TOURS", ActivityKind.TASK, 1),  # driftcoach's hygiene task on Tuesday
            ("00TREPS", ActivityKind.TASK, 2),  # a task the rep logged on Wednesday
        ):
            session.add(
                Activity(
                    connection_id=connection_id, crm_id=crm_id, kind=kind, rep_crm_id="005REP",
                    occurred_at=MONDAY + timedelta(days=day, hours=10),
                    opportunity_crm_id="006DEAL" if crm_id != "00TREPS" else None,
                )
            )  # fmt: skip
        session.add(
            CrmWrite(
                connection_id=connection_id, idempotency_key="k1", rule_key="days-since-activity",
                rep_crm_id="005REP", opportunity_crm_id="006DEAL", assignee_crm_id="005REP",
                budget_owner_crm_id="005REP", task_kind="hygiene", payload={},
                state=OutboxState.DONE, crm_record_id="00TOURS",
            )
        )  # fmt: skip
    return connection_id


def _value(store: Store, connection_id: int, metric: MetricSpec, key: SubjectKey) -> float | None:
    with store.unit_of_work() as session:
        series = SqlMetricSource(session, connection_id).measure(metric, [WEEK])
    observation = series[key][0]
    return None if observation is None else observation.value


def test_own_tasks_are_neither_activities_nor_days_at_work(store: Store):
    connection_id = _seed(store)
    rep = SubjectKey("005REP")
    assert _value(store, connection_id, ActivityCount(), rep) == 2  # the call and the rep's task
    assert _value(store, connection_id, ActivityCount(kinds=("task",)), rep) == 1
    assert _value(store, connection_id, ActiveDays(), rep) == 2  # Monday and Wednesday


def test_an_own_task_on_a_deal_does_not_reset_its_days_without_activity(store: Store):
    connection_id = _seed(store)
    idle = _value(store, connection_id, DaysSinceActivity(), SubjectKey("005REP", "006DEAL"))
    assert idle == pytest.approx(7 - 10 / 24)  # since Monday 10:00's call, not Tuesday's task
