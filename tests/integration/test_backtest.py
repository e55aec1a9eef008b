"""The backtest's replay on the store (SQLite and PostgreSQL): the decisions of live
evaluation at every step, and nothing learnt after each step's moment."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from bench._evaluate_load import load_whole_org
from bench.org_records import BenchOrg, OrgShape
from connectors.records import ActivityKind, StageCategory
from rules.backtest import replay_moments
from rules.documents import VersionedRule
from rules.evaluation import OpenFinding, Plan
from service.backtest.replay import replay_connection
from service.evaluation.run import evaluate_connection, stored_rules
from service.store import Store
from service.store.tables import Activity, Opportunity, OpportunityChange, Rep, SyncState

ORG = OrgShape(reps=8, managers=2, months=9, deal_scale=0.6, seed=11)
WEEKS = 5


@pytest.fixture
def org(store: Store) -> int:
    """A generated org with the default pack applied; its last weeks are replayed."""
    connection_id = load_whole_org(store, BenchOrg(ORG), activities=6000)
    with store.unit_of_work() as session:
        session.add(
            SyncState(
                connection_id=connection_id,
                stream="opportunities",
                entity="opportunity",
                status="succeeded",
                last_success_at=ORG.end,
            )
        )
    return connection_id


def _rules(store: Store) -> list[VersionedRule]:
    with store.unit_of_work() as session:
        return stored_rules(session)[0]


def _moments() -> list[datetime]:
    return replay_moments(ORG.end - timedelta(weeks=WEEKS), ORG.end)


def _normal(plan: Plan) -> list[Any]:
    """The plan's intents without store-assigned finding ids (a fresh store numbers
    findings in its own order)."""
    return [_without_ids(intent) for intent in plan.intents]


def _without_ids(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: None if f.name == "finding_id" else _without_ids(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {k: None if k == "finding_id" else _without_ids(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_ids(item) for item in value)
    return value


def test_each_replayed_step_decides_what_live_evaluation_decides_at_that_instant(
    store: Store, org: int
):
    moments = _moments()
    run = replay_connection(store, org, _rules(store), moments)

    assert len(run.replay.steps) == len(moments) >= WEEKS
    opened = sum(len(step.plan.of_type(OpenFinding)) for step in run.replay.steps)
    assert opened > 10
    for step, moment in zip(run.replay.steps, moments, strict=True):
        live = evaluate_connection(store, org, as_of=moment)
        assert _normal(step.plan) == _normal(live.plan), moment


def test_nothing_learnt_after_a_step_changes_its_plan_nor_any_text_in_it(store: Store, org: int):
    """After the last moment: every deal changes stage and amount, reps log activities,
    a rep leaves, a new rep starts, new deals arrive, and the data is synced again."""
    moments = _moments()
    rules = _rules(store)
    before = replay_connection(store, org, rules, moments).replay.steps
    _learn_more_after(store, org, moments[-1])
    after = replay_connection(store, org, rules, moments).replay.steps

    for old, new in zip(before, after, strict=True):
        for a, b in zip(old.plan.intents, new.plan.intents, strict=False):
            assert a == b, _difference(a, b)
        assert old.plan == new.plan
    assert [step.reps for step in after] == [step.reps for step in before]


def _learn_more_after(store: Store, connection_id: int, moment: datetime) -> None:
    later = moment + timedelta(days=3)
    with store.unit_of_work() as session:
        deals = session.execute(
            select(Opportunity.crm_id, Opportunity.owner_crm_id).where(
                Opportunity.connection_id == connection_id
            )
        ).all()
        reps = list(session.scalars(select(Rep.crm_id).where(Rep.connection_id == connection_id)))
        session.execute(
            insert(OpportunityChange),
            [
                {
                    "connection_id": connection_id,
                    "crm_id": f"late-{deal}",
                    "opportunity_crm_id": deal,
                    "changed_at": later,
                    "stage": "Closed Won",
                    "stage_category": StageCategory.WON,
                    "amount": Decimal("999999.00"),
                    "crm_modified_at": later,
                }
                for deal, _ in deals
            ],
        )
        session.execute(
            update(Opportunity)
            .where(Opportunity.connection_id == connection_id)
            .values(
                stage="Closed Won",
                stage_category=StageCategory.WON,
                amount=Decimal("999999.00"),
                closed_at=later,
                crm_modified_at=later,
            )
        )
        session.execute(
            insert(Opportunity),
            [
                {
                    "connection_id": connection_id,
                    "crm_id": f"new-{n}",
                    "name": f"Brand new {n}",
                    "stage": "Prospecting",
                    "stage_category": StageCategory.OPEN,
                    "owner_crm_id": reps[n % len(reps)],
                    "amount": Decimal("50000.00"),
                    "created_in_crm_at": later,
                    "crm_modified_at": later,
                }
                for n in range(20)
            ],
        )
        session.execute(
            insert(Activity),
            [
                {
                    "connection_id": connection_id,
                    "crm_id": f"late-call-{rep}-{n}",
                    "kind": ActivityKind.CALL,
                    "rep_crm_id": rep,
                    "occurred_at": later + timedelta(minutes=n),
                    "crm_modified_at": later,
                }
                for rep in reps
                for n in range(30)
            ],
        )
        session.execute(
            update(Rep)
            .where(Rep.connection_id == connection_id, Rep.crm_id == reps[-1])
            .values(is_active=False, crm_modified_at=later)
        )
        session.add(
            Rep(
                connection_id=connection_id,
                crm_id="005NEWHIRE",
                name="Nia New",
                manager_crm_id=_manager_of(session, connection_id, reps),
                started_on=later.date(),
                crm_modified_at=later,
            )
        )
        session.execute(
            update(SyncState)
            .where(SyncState.connection_id == connection_id)
            .values(last_success_at=later + timedelta(days=30))
        )


def _manager_of(session: Any, connection_id: int, reps: Sequence[str]) -> str | None:
    manager: str | None = session.scalar(
        select(Rep.manager_crm_id).where(
            Rep.connection_id == connection_id, Rep.manager_crm_id.is_not(None)
        )
    )
    return manager


def _difference(a: Any, b: Any, path: str = "") -> str:
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if x != y:
                return _difference(x, y, f"{path}.{f.name}")
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _difference(a.get(key), b.get(key), f"{path}[{key!r}]")
    return f"{path}: {a!r} != {b!r}"
