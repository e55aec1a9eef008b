"""One bad record never stops a stream: it is quarantined, counted, listed and retried,
on SQLite and PostgreSQL, with the fake connector (the sandbox tests do the same over
HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from connectors import records as rec
from connectors.fake import FakeConnector
from connectors.records import ActivityKind, Deletion, Entity, Rejected, StageCategory
from service.store import Store
from service.store.quarantine import listing
from service.store.tables import Activity, Connection, CrmKind, Opportunity, QuarantinedRecord
from service.sync import pipeline
from service.sync.pipeline import StreamStatus, SyncReport, sync_connection

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UNREADABLE = "ValueError: year 10000 is out of range"


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        connection = Connection(name="fake", crm=CrmKind.SALESFORCE)
        session.add(connection)
        session.flush()
        return connection.id


def _deal(i: int | str, minute: int = 0, **fields: object) -> rec.Opportunity:
    values: dict[str, object] = {
        "name": f"Deal {i}",
        "stage": "Prospecting",
        "stage_category": StageCategory.OPEN,
        "owner_crm_id": "u1",
        "amount": Decimal("1000.00"),
        "modified_at": T0 + timedelta(minutes=minute),
    }
    values.update(fields)
    return rec.Opportunity(crm_id=f"o{i}", **values)  # type: ignore[arg-type]


def _fake(deals: int = 25) -> FakeConnector:
    fake = FakeConnector(page_size=10)
    fake.put(*(_deal(i) for i in range(deals)))
    return fake


def _sync(store: Store, connection_id: int, fake: FakeConnector, **options: bool) -> SyncReport:
    return sync_connection(store, connection_id, fake, **options)  # type: ignore[arg-type]


def _stored(store: Store, table: type[Opportunity] | type[Activity]) -> set[str]:
    with store.unit_of_work() as session:
        return set(session.scalars(select(table.crm_id)))


def _held(store: Store) -> dict[str, str]:
    with store.unit_of_work() as session:
        return {entry.crm_id: entry.reason for entry in listing(session)}


def _entries(store: Store) -> dict[str, QuarantinedRecord]:
    with store.unit_of_work() as session:
        rows = session.scalars(select(QuarantinedRecord)).all()
        session.expunge_all()
    return {row.crm_id: row for row in rows}


def test_a_record_the_connector_cannot_translate_is_held_and_the_stream_goes_on(
    store: Store, connection_id: int
):
    fake = _fake()
    fake.put(Rejected(Entity.OPPORTUNITY, "o-bad", UNREADABLE), _deal(99))
    report = _sync(store, connection_id, fake)

    deals = report.stream("opportunities")
    assert deals.status is StreamStatus.SUCCEEDED
    assert deals.counts.records_quarantined == 1
    assert report.held == {"opportunities": 1}
    assert _stored(store, Opportunity) == {f"o{i}" for i in (*range(25), 99)}
    assert _held(store) == {"o-bad": UNREADABLE}


def test_values_no_backend_can_hold_are_held_alike_on_both_and_the_next_sync_goes_on(
    store: Store, connection_id: int
):
    """PostgreSQL refused an amount of 1e30 (the whole batch) and cut a 300-character
    stage through the batch cast; SQLite kept both. Both now hold those records back."""
    fake = _fake()
    long_id = "o" + "9" * 99  # longer than any id column: the quarantine still keys it
    fake.put(
        _deal("-stage", stage="S" * 300),
        _deal("-amount", amount=Decimal("1e30")),
        _deal("-nan", amount=Decimal("NaN")),
        rec.Opportunity(long_id, "Long id", "Prospecting", StageCategory.OPEN, modified_at=T0),
        rec.Activity("a-long-call", ActivityKind.CALL, T0, duration_seconds=3_000_000_000),
        rec.Activity("a-fine", ActivityKind.CALL, T0, duration_seconds=600),
    )
    report = _sync(store, connection_id, fake)

    assert report.status is StreamStatus.SUCCEEDED
    held = _held(store)
    assert held == {
        "o-stage": "stage: 300 characters, more than the 255 its column holds",
        "o-amount": "amount: 1e+30 does not fit numeric(18,2)",
        "o-nan": "amount: NaN is not a finite number",
        long_id: "crm_id: 100 characters, more than the 64 its column holds",
        "a-long-call": "duration_seconds: 3000000000 is outside a 32-bit integer",
    }
    assert _stored(store, Opportunity) == {f"o{i}" for i in range(25)}
    assert _stored(store, Activity) == {"a-fine"}

    fake.put(_deal(3, minute=5, stage="Negotiation"))
    again = _sync(store, connection_id, fake)
    assert again.stream("opportunities").counts.records_upserted == 1
    with store.unit_of_work() as session:
        stage = session.scalar(select(Opportunity.stage).where(Opportunity.crm_id == "o3"))
    assert stage == "Negotiation"
    assert _held(store) == held  # nothing re-read yet: each entry backs off


def test_a_fixed_version_read_later_is_stored_and_releases_the_entry(
    store: Store, connection_id: int
):
    fake = _fake()
    fake.put(_deal("-bad", stage="S" * 300))
    _sync(store, connection_id, fake)
    assert set(_held(store)) == {"o-bad"}

    fake.put(_deal("-bad", minute=9, stage="Qualification"))  # fixed in the CRM
    report = _sync(store, connection_id, fake)

    assert report.held == {}
    assert "o-bad" in _stored(store, Opportunity)
    entry = _entries(store)["o-bad"]
    assert (entry.resolution, entry.resolved_at is not None) == ("stored", True)


def test_held_records_are_read_again_once_their_back_off_has_passed_or_on_demand(
    store: Store, connection_id: int
):
    fake = _fake()
    fake.put(Rejected(Entity.OPPORTUNITY, "o-bad", UNREADABLE))
    _sync(store, connection_id, fake)
    assert fake.retranslate(_deal("-bad")) == 1  # driftcoach learned to read it

    _sync(store, connection_id, fake)  # too soon: the entry backs off for 15 minutes
    assert fake.calls["reread"] == 0
    assert "o-bad" not in _stored(store, Opportunity)

    with store.unit_of_work() as session:
        session.execute(
            update(QuarantinedRecord).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=16))
        )
    _sync(store, connection_id, fake)
    assert fake.calls["reread"] == 1
    assert "o-bad" in _stored(store, Opportunity)
    assert _entries(store)["o-bad"].resolution == "stored"


def test_a_retry_that_still_fails_counts_an_attempt_and_retry_on_demand_ignores_back_off(
    store: Store, connection_id: int
):
    fake = _fake()
    fake.put(Rejected(Entity.OPPORTUNITY, "o-bad", UNREADABLE))
    _sync(store, connection_id, fake)
    _sync(store, connection_id, fake, retry_every_quarantined=True)
    assert fake.calls["reread"] == 1
    entry = _entries(store)["o-bad"]
    assert (entry.attempts, entry.resolved_at) == (2, None)

    fake.retranslate(_deal("-bad"))
    _sync(store, connection_id, fake, retry_every_quarantined=True)
    assert _entries(store)["o-bad"].resolution == "stored"


def test_a_held_record_the_crm_no_longer_has_is_released_as_gone(store: Store, connection_id: int):
    fake = _fake()
    fake.put(Rejected(Entity.OPPORTUNITY, "o-bad", UNREADABLE))
    _sync(store, connection_id, fake)
    fake.put(Deletion(Entity.OPPORTUNITY, "o-bad", T0 + timedelta(hours=1)))

    report = _sync(store, connection_id, fake, retry_every_quarantined=True)

    assert report.held == {}
    assert _entries(store)["o-bad"].resolution == "gone"


def test_a_failed_re_read_keeps_the_entries_and_the_stream_goes_on(
    store: Store, connection_id: int, monkeypatch: pytest.MonkeyPatch
):
    fake = _fake()
    fake.put(Rejected(Entity.OPPORTUNITY, "o-bad", UNREADABLE))
    _sync(store, connection_id, fake)

    def broken(*_: object) -> None:
        raise ConnectionError("the CRM hung up")

    monkeypatch.setattr(fake, "reread", broken)
    fake.put(_deal(7, minute=3, stage="Negotiation"))
    report = _sync(store, connection_id, fake, retry_every_quarantined=True)

    assert report.status is StreamStatus.SUCCEEDED
    assert report.stream("opportunities").counts.records_upserted == 1
    assert report.held == {"opportunities": 1}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_the_database_refuses_is_written_record_by_record(
    store: Store, connection_id: int, monkeypatch: pytest.MonkeyPatch
):
    """A value the checks did not foresee (here: they are switched off) fails the batch;
    the pipeline then finds the record the database refuses and holds only it."""
    monkeypatch.setattr(pipeline, "refusal", lambda _record: None)
    fake = _fake()
    fake.put(_deal("-amount", amount=Decimal("1e30")))

    report = _sync(store, connection_id, fake)

    assert report.status is StreamStatus.SUCCEEDED
    assert _stored(store, Opportunity) == {f"o{i}" for i in range(25)}
    reason = _held(store)["o-amount"]
    assert reason.startswith("refused by the database: NumericValueOutOfRange")
    assert "INSERT" not in reason
    assert "1000" not in reason
