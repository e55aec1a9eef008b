"""SQLite upserts bypass SQLAlchemy's per-value processing: they must store the same text.

SQLite compares timestamps as text, so a single differing character (a missing
``.000000``) would make the upsert's newer-version test and the metric queries wrong.
Each test writes one record through the fast path and its twin through SQLAlchemy's
ordinary insert, then compares what SQLite actually holds, column by column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert

from connectors.records import Activity, ActivityKind, Opportunity, Rep, StageCategory
from service.settings import Settings
from service.store import Store, make_engine, migrate
from service.store.connections import add_connection
from service.store.sqlite_binds import sqlite_timestamp
from service.store.tables import CrmKind
from service.store.upserts import TABLES, CanonicalRecord, to_row, upsert

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", _env_file=None)
    migrate.upgrade(settings)
    return Store(make_engine(settings))


RECORDS: list[CanonicalRecord] = [
    Rep(
        crm_id="r",
        name="Ada O'Neil 🚀",
        email=None,
        manager_crm_id="m",
        is_active=False,
        started_on=date(2025, 2, 3),
        modified_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    Opportunity(
        crm_id="o",
        name="Big deal",
        stage="Negotiation",
        stage_category=StageCategory.OPEN,
        amount=Decimal("12345.67"),
        probability=Decimal("60"),
        close_date=date(2026, 12, 31),
        created_at=datetime(2026, 3, 1, tzinfo=PARIS),
        qualification={"budget": "yes", "authority": None, "nested": {"a": [1, 2]}},
        modified_at=datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        deleted=True,
    ),
    Activity(
        crm_id="a",
        kind=ActivityKind.MEETING,
        occurred_at=datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=PARIS),
        duration_seconds=1800,
        modified_at=datetime(2026, 6, 2, tzinfo=UTC),
    ),
]


def _stored(store: Store, table: Table, crm_id: str) -> dict[str, Any]:
    with store.engine.connect() as connection:
        result = connection.exec_driver_sql(
            f"SELECT * FROM {table.name} WHERE crm_id = ?",  # a model's name
            (crm_id,),
        )
        row = result.mappings().one()
    return {key: value for key, value in row.items() if key not in {"id", "crm_id"}}


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_the_fast_sqlite_path_stores_exactly_what_sqlalchemy_stores(
    sqlite_store: Store, record: CanonicalRecord
):
    table = TABLES[record.entity]
    with sqlite_store.unit_of_work() as session:
        connection_id = add_connection(session, "c", CrmKind.SALESFORCE, {}).id
        assert upsert(session, connection_id, record.entity, [record], now=NOW) == 1
        twin = to_row(record, connection_id, NOW) | {"crm_id": "twin"}
        session.execute(insert(table).values(twin))
    fast = _stored(sqlite_store, table, record.crm_id)
    assert fast == _stored(sqlite_store, table, "twin")
    assert any(isinstance(value, str) and value.endswith("000") for value in fast.values())
    sqlite_store.dispose()


def test_a_re_read_of_the_same_version_writes_nothing_and_a_newer_one_writes(
    sqlite_store: Store,
):
    activity = RECORDS[2]
    assert isinstance(activity, Activity)
    with sqlite_store.unit_of_work() as session:
        connection_id = add_connection(session, "c", CrmKind.SALESFORCE, {}).id
        assert upsert(session, connection_id, activity.entity, [activity], now=NOW) == 1
        assert upsert(session, connection_id, activity.entity, [activity], now=NOW) == 0
        newer = Activity(
            crm_id=activity.crm_id,
            kind=activity.kind,
            occurred_at=activity.occurred_at,
            subject="moved",
            modified_at=activity.modified_at + timedelta(microseconds=1)
            if activity.modified_at
            else None,
        )
        assert upsert(session, connection_id, activity.entity, [newer], now=NOW) == 1
    sqlite_store.dispose()


def test_naive_times_are_refused_on_the_fast_path_too():
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert sqlite_timestamp(datetime(2026, 1, 1, 1, tzinfo=PARIS)) == "2026-01-01 00:00:00.000000"
