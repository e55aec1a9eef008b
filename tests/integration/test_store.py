"""The store keeps its invariants on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from connectors.records import ActivityKind, StageCategory
from service.store import Store
from service.store.tables import (
    Activity,
    Connection,
    CrmKind,
    Finding,
    FindingState,
    Opportunity,
    Rep,
    Rule,
    Severity,
    SubjectKind,
)


def _connection(session: Session, name: str = "acme-sf") -> Connection:
    connection = Connection(name=name, crm=CrmKind.SALESFORCE)
    session.add(connection)
    session.flush()
    return connection


def _rep(session: Session, connection: Connection, crm_id: str = "005000000000001AAA") -> Rep:
    rep = Rep(connection_id=connection.id, crm_id=crm_id, name="Ada Rep")
    session.add(rep)
    session.flush()
    return rep


def test_times_come_back_aware_and_in_utc(store: Store):
    paris_evening = datetime(2026, 3, 29, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    with store.unit_of_work() as session:
        connection = _connection(session)
        session.add(
            Activity(
                connection_id=connection.id,
                crm_id="00T1",
                kind=ActivityKind.CALL,
                occurred_at=paris_evening,
            )
        )
    with store.unit_of_work() as session:
        loaded = session.scalars(select(Activity.occurred_at)).one()
    assert loaded.tzinfo is not None
    assert loaded.utcoffset() == timedelta(0)
    assert loaded == paris_evening
    assert loaded.hour == 21


def _commit(store: Store, *rows: object) -> None:
    with store.unit_of_work() as session:
        session.add_all(rows)


def test_naive_times_are_refused(store: Store):
    with store.unit_of_work() as session:
        connection_id = _connection(session).id
    naive = Activity(
        connection_id=connection_id,
        crm_id="00T1",
        kind=ActivityKind.EMAIL,
        occurred_at=datetime(2026, 1, 5, 9, 0),  # noqa: DTZ001 - the point of the test
    )
    with pytest.raises(StatementError, match="naive datetime"):
        _commit(store, naive)


def test_money_keeps_every_cent(store: Store):
    amount = Decimal("1234567.89")
    with store.unit_of_work() as session:
        connection = _connection(session)
        session.add(
            Opportunity(
                connection_id=connection.id,
                crm_id="0061",
                name="Big deal",
                stage="Negotiation",
                stage_category=StageCategory.OPEN,
                amount=amount,
                close_date=date(2026, 12, 31),
            )
        )
    with store.unit_of_work() as session:
        loaded = session.scalars(select(Opportunity.amount)).one()
        total = session.scalar(select(func.sum(Opportunity.amount)))
    assert isinstance(loaded, Decimal)
    assert loaded == amount
    assert Decimal(str(total)) == amount


def test_a_crm_id_is_unique_within_a_connection_but_not_across_them(store: Store):
    with store.unit_of_work() as session:
        first, second = _connection(session, "sf"), _connection(session, "hs")
        _rep(session, first, "same-id")
        _rep(session, second, "same-id")
    with pytest.raises(IntegrityError):
        _commit(store, Rep(connection_id=first.id, crm_id="same-id", name="Twin"))


def test_foreign_keys_are_enforced(store: Store):
    with pytest.raises(IntegrityError):
        _commit(store, Rep(connection_id=424242, crm_id="x", name="Orphan"))


def test_enumerated_columns_refuse_unknown_values(store: Store):
    with store.unit_of_work() as session:
        connection_id = _connection(session).id
    with pytest.raises(IntegrityError), store.unit_of_work() as session:
        session.execute(
            text(
                "INSERT INTO opportunities (connection_id, crm_id, name, stage, stage_category,"
                " qualification, synced_at)"
                " VALUES (:c, '006x', 'Bad', 'Closed', 'maybe', '{}', CURRENT_TIMESTAMP)"
            ),
            {"c": connection_id},
        )


def _finding(rule: Rule, rep: Rep, state: FindingState = FindingState.OPEN) -> Finding:
    return Finding(
        rule_id=rule.id,
        rule_version=1,
        subject_kind=SubjectKind.REP,
        rep_id=rep.id,
        state=state,
        severity=Severity.MEDIUM,
        period_start=date(2026, 11, 16),
        period_end=date(2026, 11, 20),
        observed=12.0,
        standard={"min": 40},
    )


def test_only_one_live_finding_per_rule_and_rep(store: Store):
    with store.unit_of_work() as session:
        rep = _rep(session, _connection(session))
        rule = Rule(key="calls-per-day", name="Calls per day")
        session.add(rule)
        session.flush()
        session.add(_finding(rule, rep, FindingState.RESOLVED))
        session.add(_finding(rule, rep, FindingState.RESOLVED))
        session.add(_finding(rule, rep, FindingState.OPEN))
    with pytest.raises(IntegrityError):
        _commit(store, _finding(rule, rep, FindingState.SNOOZED))


def test_a_rep_finding_cannot_name_a_deal(store: Store):
    with store.unit_of_work() as session:
        connection = _connection(session)
        rep = _rep(session, connection)
        deal = Opportunity(
            connection_id=connection.id,
            crm_id="0061",
            name="Deal",
            stage="Discovery",
            stage_category=StageCategory.OPEN,
        )
        rule = Rule(key="stale-deals", name="Stale deals")
        session.add_all([deal, rule])
        session.flush()
    finding = _finding(rule, rep)
    finding.opportunity_id = deal.id
    with pytest.raises(IntegrityError):
        _commit(store, finding)


def test_defaults_fill_bookkeeping_columns(store: Store):
    before = datetime.now(UTC)
    with store.unit_of_work() as session:
        rep = _rep(session, _connection(session))
        assert rep.is_active is True
        assert rep.synced_at >= before


@pytest.mark.parametrize("probe", [1, 2])
def test_each_test_starts_from_an_empty_store(store: Store, probe: int):
    with store.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Connection)) == 0
        _connection(session, f"probe-{probe}")
