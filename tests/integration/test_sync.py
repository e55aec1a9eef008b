"""The sync pipeline against the fake connector, on SQLite and PostgreSQL.

The store must end up equal to the CRM, whatever the order, repetition or interruption of
the reads; a re-read must change nothing; and a cursor must never cover rows the store
does not hold.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, event, func, select, update

from connectors import records as rec
from connectors.base import SyncStopped
from connectors.fake import DEFAULT_STREAMS, FakeConnector, SimulatedCrash
from connectors.records import ActivityKind, Deletion, Entity, Rejected, StageCategory
from service.store import Store
from service.store.tables import (
    Connection,
    CrmKind,
    QuotaSource,
    SyncState,
    SyncStatus,
    WebhookEvent,
)
from service.store.upserts import TABLES, RecordBatch
from service.sync.pipeline import StreamStatus, SyncReport, sync_connection
from service.sync.prefetch import MAX_AHEAD

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STREAMS = {stream.name: stream.entity for stream in DEFAULT_STREAMS}
RENAMED = {"modified_at": "crm_modified_at", "created_at": "created_in_crm_at"}


class Clock:
    """CRM modification times: every version is a minute newer than the one before."""

    def __init__(self) -> None:
        self.now = T0

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _records(clock: Clock, n: int) -> list[rec.Record]:
    """``n`` records of each kind, linked by CRM id as a CRM would link them."""
    out: list[rec.Record] = []
    for i in range(n):
        out += [
            rec.Rep(f"u{i}", f"Rep {i}", email=f"r{i}@x.test", manager_crm_id="u0",
                    started_on=date(2025, 1, 6), modified_at=clock.tick()),
            rec.Opportunity(f"o{i}", f"Deal {i}", "Prospecting", StageCategory.OPEN,
                            owner_crm_id=f"u{i}", amount=Decimal("1000.50") + i,
                            created_at=T0, qualification={"budget": i}, modified_at=clock.tick()),
            rec.OpportunityChange(f"h{i}", f"o{i}", T0 + timedelta(days=i), stage="Prospecting",
                                  stage_category=StageCategory.OPEN, modified_at=clock.tick()),
            rec.Activity(f"a{i}", ActivityKind.CALL, T0 + timedelta(hours=i), rep_crm_id=f"u{i}",
                         subject=f"Call {i}", duration_seconds=60, modified_at=clock.tick()),
            rec.Quota(f"q{i}", f"u{i}", date(2026, 1, 1), date(2026, 3, 31), Decimal("50000.00"),
                      modified_at=clock.tick()),
        ]  # fmt: skip
    return out


def _edited(record: Any, clock: Clock, **changes: Any) -> Any:
    """A newer version of ``record`` with ``changes``."""
    return dataclasses.replace(record, modified_at=clock.tick(), **changes)


def _fake(n: int = 30, **options: Any) -> tuple[FakeConnector, Clock]:
    clock = Clock()
    fake = FakeConnector(**{"page_size": 10, **options})
    fake.put(*_records(clock, n))
    return fake, clock


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        connection = Connection(name="fake", crm=CrmKind.SALESFORCE)
        session.add(connection)
        session.flush()
        return connection.id


def _rows(store: Store, table: Table) -> dict[str, dict[str, Any]]:
    with store.unit_of_work() as session:
        rows = [dict(row._mapping) for row in session.execute(select(table))]
    by_id = {row["crm_id"]: row for row in rows}
    assert len(by_id) == len(rows), "duplicate CRM ids"
    return by_id


def _snapshot(store: Store) -> dict[str, Any]:
    tables = {name: _rows(store, TABLES[entity]) for name, entity in STREAMS.items()}
    with store.unit_of_work() as session:
        states = session.execute(select(SyncState.stream, SyncState.cursor)).all()
    return {"tables": tables, "cursors": sorted(states)}


def _expected(fake: FakeConnector, stream: str) -> dict[str, tuple[rec.Record, datetime | None]]:
    """What the store must hold: each id's newest version and when it was deleted."""
    latest: dict[str, Any] = {}
    deleted: dict[str, datetime | None] = {}
    for version in fake.versions(stream):
        crm_id = version.crm_id
        if isinstance(version, Rejected):
            continue
        if isinstance(version, Deletion):
            known = latest.get(crm_id)
            if known is not None and deleted[crm_id] is None:
                deleted[crm_id] = version.deleted_at
        else:
            latest[crm_id] = version
            deleted[crm_id] = (
                (deleted.get(crm_id) or version.modified_at) if version.deleted else None
            )
    return {crm_id: (record, deleted[crm_id]) for crm_id, record in latest.items()}  # fmt: skip


def assert_store_equals_fake(store: Store, fake: FakeConnector, connection_id: int) -> None:
    for stream, entity in STREAMS.items():
        rows = _rows(store, TABLES[entity])
        expected = _expected(fake, stream)
        assert rows.keys() == expected.keys(), stream
        for crm_id, (record, deleted_at) in expected.items():
            row = rows[crm_id]
            assert row["connection_id"] == connection_id
            assert row["deleted_at"] == deleted_at, crm_id
            for field in dataclasses.fields(record):
                if field.name not in ("deleted", "entity"):
                    column = RENAMED.get(field.name, field.name)
                    assert row[column] == getattr(record, field.name), (crm_id, column)


def _state(store: Store, stream: str) -> SyncState:
    with store.unit_of_work() as session:
        return session.scalars(select(SyncState).where(SyncState.stream == stream)).one()


def _sync(store: Store, connection_id: int, fake: FakeConnector, **options: Any) -> SyncReport:
    """A sync committing at every checkpoint unless told otherwise: the fake's pages are
    ten records, far below the default ``min_commit``, and these tests pin down what each
    checkpoint guarantees (coalescing has its own tests)."""
    options.setdefault("min_commit", 1)
    return sync_connection(store, connection_id, fake, **options)


# ------------------------------------------------------------------------------ happy paths


def test_a_full_sync_into_an_empty_store_equals_the_crm(store: Store, connection_id: int):
    fake, _ = _fake()
    report = _sync(store, connection_id, fake, batch_size=7)
    assert report.status is StreamStatus.SUCCEEDED
    assert_store_equals_fake(store, fake, connection_id)
    for position, stream in enumerate(STREAMS):  # the fake put one of each kind per id
        counts = report.stream(stream).counts
        assert (counts.records_read, counts.records_upserted, counts.api_calls) == (30, 30, 3)
        state = _state(store, stream)
        assert state.status is SyncStatus.SUCCEEDED
        assert state.cursor == {"seq": 5 * 29 + 1 + position}
        assert state.records_read == 30
        assert state.last_success_at == state.run_finished_at is not None
    quotas = _rows(store, TABLES[Entity.QUOTA])
    assert {row["source"] for row in quotas.values()} == {QuotaSource.CRM}
    assert report.api_calls == 15


def test_a_rerun_without_crm_changes_changes_nothing(store: Store, connection_id: int):
    fake, _ = _fake(lookback=25)
    _sync(store, connection_id, fake)
    before = _snapshot(store)
    report = _sync(store, connection_id, fake)
    assert _snapshot(store) == before
    assert sum(stream.counts.records_upserted for stream in report.streams) == 0
    assert sum(stream.counts.records_read for stream in report.streams) > 0  # re-read


def test_edits_soft_deletes_and_deletions_between_runs_are_applied(
    store: Store, connection_id: int
):
    fake, clock = _fake()
    _sync(store, connection_id, fake)
    rep = fake.latest("reps")["u3"]
    activity = fake.latest("activities")["a4"]
    fake.put(
        _edited(rep, clock, name="Renamed", team="West"),
        _edited(activity, clock, deleted=True),
        Deletion(Entity.OPPORTUNITY, "o5", clock.tick()),
        Deletion(Entity.OPPORTUNITY, "never-synced", clock.tick()),
        rec.Quota("q-new", "u1", date(2026, 4, 1), date(2026, 6, 30), Decimal(1),
                  modified_at=clock.tick()),
    )  # fmt: skip
    report = _sync(store, connection_id, fake)
    assert_store_equals_fake(store, fake, connection_id)
    assert report.stream("opportunities").counts.records_deleted == 1
    assert _rows(store, TABLES[Entity.OPPORTUNITY])["o5"]["deleted_at"] is not None

    fake.put(_edited(activity, clock, subject="Restored"))
    _sync(store, connection_id, fake)
    assert _rows(store, TABLES[Entity.ACTIVITY])["a4"]["deleted_at"] is None
    assert_store_equals_fake(store, fake, connection_id)


@pytest.mark.parametrize("batch_size", [3, 1000])
def test_lookback_re_reads_within_and_across_batches_are_harmless(
    store: Store, connection_id: int, batch_size: int
):
    fake, clock = _fake(lookback=40, replay_versions=True, page_size=7)
    for _ in range(3):  # the same ids, several versions each, all within one read
        fake.put(*[_edited(r, clock) for r in _records(clock, 5)])
    _sync(store, connection_id, fake, batch_size=batch_size)
    assert_store_equals_fake(store, fake, connection_id)
    fake.put(_edited(fake.latest("reps")["u2"], clock, name="Edited"))
    _sync(store, connection_id, fake, batch_size=batch_size)
    assert_store_equals_fake(store, fake, connection_id)
    before = _snapshot(store)
    _sync(store, connection_id, fake, batch_size=batch_size)
    assert _snapshot(store) == before


def test_the_newest_version_wins_whatever_order_it_arrives_in(store: Store, connection_id: int):
    old = rec.Rep("u1", "Old", modified_at=T0)
    new = rec.Rep("u1", "New", modified_at=T0 + timedelta(hours=1))
    for versions in ([new, old], [old], [new, old, old]):
        batch = RecordBatch()
        for version in versions:
            batch.add(version)
        assert len(batch) == 1
        with store.unit_of_work() as session:
            batch.write(session, connection_id, now=datetime.now(UTC), force=False)
        assert _rows(store, TABLES[Entity.REP])["u1"]["name"] == "New"


def test_records_without_modification_times_are_rewritten_only_when_they_differ(
    store: Store, connection_id: int
):
    fake = FakeConnector(page_size=10)
    fake.put(rec.Rep("u1", "Ada"), rec.Rep("u2", "Bob"))
    _sync(store, connection_id, fake)
    before = _snapshot(store)
    assert _sync(store, connection_id, fake).stream("reps").counts.records_upserted == 0
    assert _snapshot(store) == before
    fake.put(rec.Rep("u2", "Bob", team="East"))
    report = _sync(store, connection_id, fake)
    assert report.stream("reps").counts.records_upserted == 1
    assert _rows(store, TABLES[Entity.REP])["u2"]["team"] == "East"


def test_a_deletion_older_than_the_stored_version_is_ignored(store: Store, connection_id: int):
    fake, clock = _fake(n=3, replay_versions=True)
    deleted_at = clock.tick()
    fake.put(_edited(fake.latest("reps")["u1"], clock, name="Restored"))
    fake.put(Deletion(Entity.REP, "u1", deleted_at))  # re-read late, e.g. by a lookback
    _sync(store, connection_id, fake)
    assert _rows(store, TABLES[Entity.REP])["u1"]["deleted_at"] is None


def test_full_rewrites_every_row_it_reads(store: Store, connection_id: int):
    fake, _ = _fake(n=5)
    _sync(store, connection_id, fake)
    reps = TABLES[Entity.REP]
    with store.unit_of_work() as session:  # a row damaged behind the CRM's back
        session.execute(update(reps).where(reps.c.crm_id == "u1").values(name="damaged"))
    _sync(store, connection_id, fake)
    assert _rows(store, reps)["u1"]["name"] == "damaged"
    before = _rows(store, reps)
    report = _sync(store, connection_id, fake, full=True)
    after = _rows(store, reps)
    assert after["u1"]["name"] == "Rep 1"
    assert all(after[i]["synced_at"] > before[i]["synced_at"] for i in before)
    assert report.stream("reps").counts.records_upserted == 5
    assert_store_equals_fake(store, fake, connection_id)


def test_progress_reports_records_read_so_far(store: Store, connection_id: int):
    fake, _ = _fake(n=25)
    seen: list[tuple[str, int]] = []
    _sync(store, connection_id, fake, progress=lambda stream, n: seen.append((stream, n)))
    reps = [n for stream, n in seen if stream == "reps"]
    assert reps == sorted(reps)
    assert reps[-1] == 25
    assert {stream for stream, _ in seen} == set(STREAMS)


# ------------------------------------------------------------------------------ interruptions


def _covered_ids(fake: FakeConnector, stream: str, cursor: dict[str, Any] | None) -> set[str]:
    """The ids a cursor claims are stored: every version up to its sequence number."""
    seq = cursor["seq"] if cursor else 0
    return {r.crm_id for i, r in enumerate(fake.versions(stream)) if _seq_of(stream, i) <= seq}


def _seq_of(stream: str, index: int) -> int:
    """The fake's sequence number of the ``index``-th version of ``stream`` in ``_fake``."""
    return 5 * index + 1 + list(STREAMS).index(stream)


@pytest.mark.parametrize("batch_size", [4, 1000])
@pytest.mark.parametrize("past_checkpoint", [True, False], ids=["after", "before"])
def test_a_crash_keeps_the_cursor_behind_the_committed_rows_and_a_rerun_completes(
    store: Store, connection_id: int, past_checkpoint: bool, batch_size: int
):
    fake, _ = _fake()
    fake.fail_after(20, SimulatedCrash(), stream="opportunities", past_checkpoint=past_checkpoint)
    with pytest.raises(SimulatedCrash):
        _sync(store, connection_id, fake, batch_size=batch_size)
    state = _state(store, "opportunities")
    assert state.status is SyncStatus.RUNNING
    assert state.cursor == {"seq": _seq_of("opportunities", 19 if past_checkpoint else 9)}
    stored = set(_rows(store, TABLES[Entity.OPPORTUNITY]))
    assert _covered_ids(fake, "opportunities", state.cursor) <= stored
    if batch_size > 20:  # nothing is committed ahead of a checkpoint unless the batch fills
        assert len(stored) == (20 if past_checkpoint else 10)
    assert _state(store, "reps").status is SyncStatus.SUCCEEDED

    report = _sync(store, connection_id, fake, batch_size=batch_size)
    assert report.stream("opportunities").counts.records_read == 30 - len(
        _covered_ids(fake, "opportunities", state.cursor)
    )  # resumed from the cursor
    assert report.status is StreamStatus.SUCCEEDED
    assert_store_equals_fake(store, fake, connection_id)


@pytest.mark.parametrize("past_checkpoint", [True, False], ids=["after", "before"])
def test_with_reads_in_turn_a_crash_and_the_rerun_end_as_with_read_ahead(
    store: Store, connection_id: int, past_checkpoint: bool
):
    fake, _ = _fake()
    fake.fail_after(20, SimulatedCrash(), stream="opportunities", past_checkpoint=past_checkpoint)
    with pytest.raises(SimulatedCrash):
        _sync(store, connection_id, fake, batch_size=1000, read_ahead=False)
    state = _state(store, "opportunities")
    assert state.cursor == {"seq": _seq_of("opportunities", 19 if past_checkpoint else 9)}
    assert len(_rows(store, TABLES[Entity.OPPORTUNITY])) == (20 if past_checkpoint else 10)

    report = _sync(store, connection_id, fake, read_ahead=False)
    assert report.status is StreamStatus.SUCCEEDED
    assert_store_equals_fake(store, fake, connection_id)


def _commits(store: Store) -> list[int]:
    """Counts the store's commits while a test runs (a list, so the hook can add)."""
    seen: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: seen.append(1))
    return seen


def test_small_pages_are_committed_together(store: Store, connection_id: int):
    """Pages of 10: a full sync committing once 25 records wait takes fewer transactions
    than the same sync committing at every checkpoint, and ends in the same store."""
    fake, _ = _fake(n=60)
    commits = _commits(store)
    _sync(store, connection_id, fake, full=True, min_commit=1)
    per_checkpoint = len(commits)
    commits.clear()
    report = _sync(store, connection_id, fake, full=True, min_commit=25)
    assert report.status is StreamStatus.SUCCEEDED
    assert len(commits) < per_checkpoint
    assert_store_equals_fake(store, fake, connection_id)


@pytest.mark.parametrize("min_commit", [15, 25])
def test_a_crash_with_coalesced_commits_resumes_from_the_last_committed_cursor(
    store: Store, connection_id: int, min_commit: int
):
    fake, _ = _fake()
    fake.fail_after(28, SimulatedCrash(), stream="opportunities")
    with pytest.raises(SimulatedCrash):
        _sync(store, connection_id, fake, min_commit=min_commit)
    state = _state(store, "opportunities")
    # 15: the checkpoint at 10 waits, the one at 20 commits; 25: both wait, none commits.
    assert state.cursor == ({"seq": _seq_of("opportunities", 19)} if min_commit == 15 else None)
    stored = set(_rows(store, TABLES[Entity.OPPORTUNITY]))
    assert _covered_ids(fake, "opportunities", state.cursor) <= stored
    assert len(stored) == (20 if min_commit == 15 else 0)

    assert _sync(store, connection_id, fake, min_commit=min_commit).status is (
        StreamStatus.SUCCEEDED
    )
    assert_store_equals_fake(store, fake, connection_id)


def test_a_clean_stop_commits_the_waiting_checkpoint(store: Store, connection_id: int):
    fake, _ = _fake()
    fake.fail_after(15, SyncStopped("API budget share reached"), stream="opportunities")
    report = _sync(store, connection_id, fake, min_commit=1000)
    assert report.status is StreamStatus.STOPPED
    state = _state(store, "opportunities")
    assert state.cursor == {"seq": _seq_of("opportunities", 9)}
    assert _covered_ids(fake, "opportunities", state.cursor) <= set(
        _rows(store, TABLES[Entity.OPPORTUNITY])
    )


def test_a_slow_crm_still_commits_each_checkpoint_after_the_delay(store: Store, connection_id: int):
    fake, _ = _fake()
    fake.fail_after(28, SimulatedCrash(), stream="opportunities")
    with pytest.raises(SimulatedCrash):
        _sync(store, connection_id, fake, min_commit=1000, max_commit_delay=0.0)
    assert _state(store, "opportunities").cursor == {"seq": _seq_of("opportunities", 19)}


def test_sync_stopped_keeps_the_cursor_and_skips_the_remaining_streams(
    store: Store, connection_id: int
):
    fake, _ = _fake()
    fake.fail_after(15, SyncStopped("API budget share reached"), stream="opportunities")
    report = _sync(store, connection_id, fake)
    assert report.status is StreamStatus.STOPPED
    statuses = [stream.status for stream in report.streams]
    assert statuses == ["succeeded", "stopped", "skipped", "skipped", "skipped"]
    assert report.stream("opportunities").error == "API budget share reached"
    state = _state(store, "opportunities")
    assert (state.status, state.cursor) == (
        SyncStatus.STOPPED,
        {"seq": _seq_of("opportunities", 9)},
    )
    assert state.records_read == 15
    with store.unit_of_work() as session:  # skipped streams were not even marked running
        streams = set(session.scalars(select(SyncState.stream)))
    assert streams == {"reps", "opportunities"}

    assert _sync(store, connection_id, fake).status is StreamStatus.SUCCEEDED
    assert_store_equals_fake(store, fake, connection_id)


def test_a_failure_records_its_type_and_message_without_secrets_and_other_streams_go_on(
    store: Store, connection_id: int, caplog: pytest.LogCaptureFixture
):
    fake, _ = _fake()
    fake.fail_after(12, ConnectionResetError("CRM connection reset"), stream="activities")
    with caplog.at_level(logging.DEBUG):
        report = _sync(store, connection_id, fake)
    assert report.status is StreamStatus.FAILED
    failed = report.stream("activities")
    assert failed.status is StreamStatus.FAILED
    assert failed.error == "ConnectionResetError: CRM connection reset"
    assert report.stream("quotas").status is StreamStatus.SUCCEEDED
    state = _state(store, "activities")
    assert (state.status, state.last_error) == (SyncStatus.FAILED, failed.error)
    assert state.cursor == {"seq": _seq_of("activities", 9)}
    assert state.records_read == 12
    assert state.api_calls == 2
    assert fake.secret not in caplog.text
    assert fake.secret not in repr(report)

    report = _sync(store, connection_id, fake)
    assert report.status is StreamStatus.SUCCEEDED
    assert _state(store, "activities").last_error is None
    assert_store_equals_fake(store, fake, connection_id)


def test_a_failed_stream_queues_one_sync_failed_event_per_run_and_records_its_entity(
    store: Store, connection_id: int
):
    fake, _ = _fake()
    fake.fail_after(12, ConnectionResetError("CRM connection reset"), stream="activities")
    _sync(store, connection_id, fake)
    fake.fail_after(3, ConnectionResetError("CRM connection reset"), stream="activities")
    _sync(store, connection_id, fake)
    _sync(store, connection_id, fake)  # succeeds: no event
    with store.unit_of_work() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        payloads = [(event.type, event.connection_id, dict(event.payload)) for event in events]
    assert [(kind, conn) for kind, conn, _ in payloads] == [("sync.failed", connection_id)] * 2
    assert {p["stream"] for _, _, p in payloads} == {"activities"}
    assert {p["entity"] for _, _, p in payloads} == {"activity"}
    assert {p["error"] for _, _, p in payloads} == {"ConnectionResetError: CRM connection reset"}
    assert len({event.event_id for event in events}) == 2
    assert _state(store, "quotas").entity == "quota"


def test_a_database_error_fails_the_stream_and_keeps_its_committed_rows(
    store: Store, connection_id: int
):
    fake, clock = _fake(n=12)
    negative = rec.Quota("q-bad", "u1", date(2026, 1, 1), date(2026, 3, 31), Decimal(-1),
                         modified_at=clock.tick())  # fmt: skip
    fake.put(negative)  # the store's CHECK constraint refuses it
    report = _sync(store, connection_id, fake)
    failed = report.stream("quotas")
    assert failed.status is StreamStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith(("IntegrityError", "CheckViolation"))
    assert "INSERT" not in failed.error
    assert len(_rows(store, TABLES[Entity.QUOTA])) == 10  # the first page's checkpoint held


def test_a_crm_may_hold_several_quotas_for_one_rep_and_period(store: Store, connection_id: int):
    fake, clock = _fake(n=12)
    twin = rec.Quota("q-twin", "u1", date(2026, 1, 1), date(2026, 3, 31), Decimal(1),
                     modified_at=clock.tick())  # fmt: skip
    fake.put(twin)  # same rep and period as q1, another forecast type in Salesforce terms
    report = _sync(store, connection_id, fake)
    assert report.stream("quotas").status is StreamStatus.SUCCEEDED
    assert_store_equals_fake(store, fake, connection_id)


# ------------------------------------------------------------------------------ scale


class _CountedActivity(rec.Activity):
    """An activity that knows how many of its kind are alive, to prove memory stays flat."""

    __slots__ = ()
    alive = 0
    most_alive = 0

    def __post_init__(self) -> None:
        cls = _CountedActivity
        cls.alive += 1
        cls.most_alive = max(cls.most_alive, cls.alive)

    def __del__(self) -> None:
        _CountedActivity.alive -= 1


def test_a_large_stream_syncs_without_holding_its_records(store: Store, connection_id: int):
    count, batch_size, page_size = 200_000, 1000, 5000
    made = 0

    def make(i: int) -> rec.Record:
        nonlocal made
        made = i + 1
        return _CountedActivity(f"a{i}", ActivityKind.EMAIL, T0 + timedelta(seconds=i),
                                modified_at=T0)  # fmt: skip

    activities = next(stream for stream in DEFAULT_STREAMS if stream.entity is Entity.ACTIVITY)
    fake = FakeConnector([activities], page_size=page_size)
    fake.generate(activities.name, count, make)
    ahead: list[int] = []
    _CountedActivity.alive = _CountedActivity.most_alive = 0
    report = _sync(
        store, connection_id, fake, batch_size=batch_size,
        progress=lambda _, read: ahead.append(made - read),
    )  # fmt: skip
    counts = report.stream(activities.name).counts
    assert (counts.records_read, counts.records_upserted) == (count, count)
    with store.unit_of_work() as session:
        stored = session.scalar(select(func.count()).select_from(TABLES[Entity.ACTIVITY]))
    assert stored == count
    # The reader runs ahead of the writer by a bounded amount, never by the whole stream.
    assert max(ahead) <= MAX_AHEAD
    assert len(ahead) == count // batch_size + count // page_size + 1  # batches, pages, end
    assert _CountedActivity.most_alive <= batch_size + MAX_AHEAD + 1  # memory stays flat
