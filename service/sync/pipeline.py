"""The sync pipeline: reads a connector's streams into the store, resumably.

Guarantees, and how they are kept:

* **The cursor never gets ahead of the data.** A checkpoint's cursor is written in the
  same transaction as every record read before it. When more than ``batch_size`` records
  arrive before a checkpoint, they are committed early *without* moving the cursor:
  harmless, since a re-read rewrites nothing (the upsert only takes newer versions).
  Memory therefore stays flat whatever the stream's size, and no transaction stays open
  while the connector waits on the network.
* **Small pages are committed together.** A checkpoint is committed once at least
  ``min_commit`` records wait (or ``max_commit_delay`` seconds passed since the last
  commit); until then its cursor waits with them and goes into the next transaction,
  together with every record read before it. A commit per page would cost a
  transaction, a cursor update and a statement setup per 2,000 Salesforce records or
  100-200 HubSpot ones. A crash loses only uncommitted progress, which
  the next run reads again; a clean stop commits what waits.
* **Failures keep the committed progress.** Each write is its own unit of work; a failure
  rolls back only the write in flight and drops records read since the last write (the
  next run reads them again from the saved cursor).
* :class:`~connectors.base.SyncStopped` (API budget reached, CRM rate limit) ends the run
  cleanly: the stream is ``stopped`` and later streams are ``skipped`` rather than read,
  since they would spend the same budget. Any other exception marks the stream
  ``failed`` and the run **goes on** with the next stream: streams fill separate tables,
  so a broken one (a permission error on one object, a bad record) must not starve the
  others. A ``BaseException`` (interrupt, exit, a killed process) is not caught: the
  stream stays ``running`` with its last committed cursor, and the next run resumes there.
* ``last_error`` holds the exception's type and message only, never a traceback or its
  chained causes, where client libraries keep request headers and tokens.
* **One bad record never stops a stream.** A record the connector could not translate
  (:class:`~connectors.records.Rejected`) or the store cannot hold
  (:func:`~service.store.upserts.refusal`; or, unforeseen, a batch the database refuses,
  then written a record at a time to find which) is quarantined in the same transaction
  as the batch it came with (:mod:`service.store.quarantine`), and the stream goes on.
  Each run first reads due quarantined records again from the CRM; any read that
  stores one releases it, and one the CRM no longer has is released as gone.

The caller owns the connector: ``sync_connection`` never closes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import DataError, StatementError
from sqlalchemy.orm import Session

from connectors.base import ApiUsage, Connector, Stream, SyncStopped
from connectors.records import Checkpoint, Deletion, Item, Rejected
from service.store import quarantine, sync_state
from service.store.engine import Store
from service.store.quarantine import Key, Refused
from service.store.sync_state import RunCounts
from service.store.tables import SyncStatus, utcnow
from service.store.task_outcomes import note_task_outcomes
from service.store.upserts import CanonicalRecord, RecordBatch, refusal
from service.sync.prefetch import InTurn, Prefetched

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Called with (stream name, records read so far) after every write."""

_MAX_ERROR_LENGTH = 1000


class StreamStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    SKIPPED = "skipped"  # not read: an earlier stream stopped the run


@dataclass
class StreamReport:
    stream: str
    status: StreamStatus
    counts: RunCounts = field(default_factory=RunCounts)
    error: str | None = None
    """Why the stream did not succeed: the exception (failed) or the stop reason."""


@dataclass
class SyncReport:
    connection_id: int
    full: bool
    started_at: datetime
    finished_at: datetime | None = None
    streams: list[StreamReport] = field(default_factory=list)
    usage: ApiUsage | None = None
    """The connector's own usage figures at the end of the run."""
    held: dict[str, int] = field(default_factory=dict)
    """Records in quarantine per stream at the end of the run (this run's and older)."""

    @property
    def status(self) -> StreamStatus:
        """``failed`` if any stream failed, else ``stopped`` if one stopped, else success."""
        for status in (StreamStatus.FAILED, StreamStatus.STOPPED):
            if any(report.status is status for report in self.streams):
                return status
        return StreamStatus.SUCCEEDED

    @property
    def api_calls(self) -> int:
        return sum(report.counts.api_calls for report in self.streams)

    def stream(self, name: str) -> StreamReport:
        return next(report for report in self.streams if report.stream == name)


def sync_connection(
    store: Store,
    connection_id: int,
    connector: Connector,
    *,
    full: bool = False,
    batch_size: int = 5000,
    min_commit: int = 5000,
    max_commit_delay: float = 2.0,
    progress: Progress | None = None,
    read_ahead: bool = True,
    retry_every_quarantined: bool = False,
) -> SyncReport:
    """Sync every stream of ``connector`` into ``connection_id``'s rows; see the module doc.

    ``full`` ignores the saved cursors and rewrites every row read, even unchanged ones.
    ``min_commit=1`` commits at every checkpoint. ``read_ahead`` reads the CRM on a
    thread a few chunks ahead of the writes (the same rows and checkpoints, sooner: the
    CRM's latency overlaps the database's work); off, reads and writes take turns.
    ``retry_every_quarantined`` reads every held record again now, back-off or not (as
    after an upgrade that taught the store a new case).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if min_commit < 1:
        raise ValueError("min_commit must be at least 1")
    report = SyncReport(connection_id=connection_id, full=full, started_at=utcnow())
    options = _Options(
        store,
        connection_id,
        connector,
        full,
        batch_size,
        progress,
        min(min_commit, batch_size),
        max_commit_delay,
        read_ahead,
        retry_every_quarantined,
    )
    stopped = False
    for stream in connector.streams():
        if stopped:
            result = StreamReport(stream.name, StreamStatus.SKIPPED)
        else:
            result = _StreamSync(options, stream).run()
        stopped = stopped or result.status is StreamStatus.STOPPED
        report.streams.append(result)
    report.finished_at = utcnow()
    report.usage = connector.usage()
    with store.unit_of_work() as session:
        report.held = quarantine.open_counts(session, connection_id)
    return report


def describe_error(error: BaseException) -> str:
    """``Type: message``, capped; database errors name the driver's error, not the SQL."""
    if isinstance(error, StatementError) and error.orig is not None:
        error = error.orig
    message = str(error).strip()
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text[:_MAX_ERROR_LENGTH]


@dataclass(frozen=True)
class _Options:
    store: Store
    connection_id: int
    connector: Connector
    full: bool
    batch_size: int
    progress: Progress | None
    min_commit: int
    max_commit_delay: float
    read_ahead: bool
    retry_every_quarantined: bool


class _StreamSync:
    """One run of one stream: reads, writes in batches, and records how it ended."""

    def __init__(self, options: _Options, stream: Stream) -> None:
        self.options = options
        self.stream = stream
        self.counts = RunCounts()
        self.batch = RecordBatch()
        self._calls_before = 0
        self._pending: Mapping[str, Any] | None = None  # a checkpoint not yet committed
        self._last_commit = time.monotonic()
        self._held: set[Key] = set()  # open quarantine entries at the start of the run
        self._refused: dict[Key, Refused] = {}  # since the last write
        self._stored: set[Key] = set()  # held entries in the batch, to release
        self._gone: set[Key] = set()  # held entries the CRM no longer has
        self._quarantined: set[Key] = set()  # the run's, for its count

    def run(self) -> StreamReport:
        options, name = self.options, self.stream.name
        with options.store.unit_of_work(writes=True) as session:
            cursor = sync_state.begin_run(
                session, options.connection_id, name, now=utcnow(), entity=self.stream.entity
            )
            self._held = quarantine.open_keys(session, options.connection_id, name)
            due = self._due(session)
        self._calls_before = options.connector.usage().calls
        try:
            if due:
                self._retry(due)
            self._copy(None if options.full else cursor)
        except SyncStopped as stop:
            if self._pending is not None:  # a clean stop keeps what was read up to it
                self._write()
            return self._end(StreamStatus.STOPPED, stop.reason)
        except Exception as exc:  # recorded as failed; the other streams go on
            return self._end(StreamStatus.FAILED, describe_error(exc))
        logger.info("synced %s: %s", name, self.counts)
        return StreamReport(name, StreamStatus.SUCCEEDED, self.counts)

    def _due(self, session: Session) -> list[Refused]:
        if not self._held:
            return []
        options = self.options
        return quarantine.due(
            session,
            options.connection_id,
            self.stream.name,
            now=utcnow(),
            every=options.retry_every_quarantined,
        )

    def _retry(self, due: list[Refused]) -> None:
        """Read held records again; one the CRM no longer yields is released as gone.
        A failed re-read leaves them held and the run goes on (SyncStopped ends it)."""
        seen: set[Key] = set()
        ids = list(dict.fromkeys(entry.reread_id for entry in due))
        try:
            for item in self.options.connector.reread(self.stream, ids):
                self._take(item)
                seen.add(_key_of(item))
        except SyncStopped:
            raise
        except Exception as exc:
            logger.warning("re-reading quarantined %s failed: %s", self.stream.name,
                           describe_error(exc))  # fmt: skip
        else:
            self._gone |= {entry.key for entry in due} - seen
        self._write()

    def _take(self, item: Item) -> None:
        """Into the batch, or into the quarantine with the reason."""
        if isinstance(item, Rejected):
            reread_id = item.reread_id or item.crm_id
            self._refuse(Refused(item.entity.value, item.crm_id, reread_id, item.reason))
            return
        if isinstance(item, Deletion):
            if self._held:
                self._deleted(_key_of(item))
        elif (reason := refusal(item)) is None:
            if self._held and (key := _key_of(item)) in self._held:
                self._stored.add(key)
                self._refused.pop(key, None)
        elif item.deleted:  # its content no longer matters: only that it is gone
            if self._held:
                self._deleted(_key_of(item))
            item = Deletion(item.entity, item.crm_id, item.modified_at or utcnow())
        else:
            self._refuse(Refused(item.entity.value, item.crm_id, self._reread_id(item), reason))
            return
        self.batch.add(item)

    def _deleted(self, key: Key) -> None:
        """The CRM deleted a record: a held entry for it is released as gone."""
        if key in self._held:
            self._gone.add(key)
            self._refused.pop(key, None)
            self._stored.discard(key)

    def _refuse(self, refused: Refused) -> None:
        self._refused[refused.key] = refused
        self._stored.discard(refused.key)
        self._gone.discard(refused.key)
        self._quarantined.add(refused.key)

    def _reread_id(self, record: CanonicalRecord) -> str:
        """What a retry asks the CRM for: the record, or the object it came with (a
        HubSpot deal's changes come with the deal)."""
        if record.entity is not self.stream.entity:
            parent = getattr(record, "opportunity_crm_id", None)
            if parent is not None:
                return str(parent)
        return record.crm_id

    def _copy(self, cursor: Mapping[str, Any] | None) -> None:
        """Read the stream, writing at every checkpoint and every ``batch_size`` records."""
        read = self.options.connector.read(self.stream, cursor)
        items: Prefetched[Any] | InTurn[Any] = (
            Prefetched(read, flush_on=lambda item: isinstance(item, Checkpoint))
            if self.options.read_ahead
            else InTurn(read)
        )
        try:
            for item in items:
                if isinstance(item, Checkpoint):
                    self._pending = item.cursor
                    if self._commit_due():
                        self._write()
                    continue
                self._take(item)
                self.counts.records_read += 1
                if len(self.batch) + len(self._refused) >= self.options.batch_size:
                    self._write()  # early: records past the pending cursor are harmless
        finally:
            items.close()
        self._write(finished=True)

    def _commit_due(self) -> bool:
        """At a checkpoint: enough records wait, or long enough, or none (the batch was
        just committed early: the cursor alone catches up)."""
        waiting = len(self.batch) + len(self._refused)
        waited = time.monotonic() - self._last_commit
        return (
            waiting == 0
            or waiting >= self.options.min_commit
            or waited >= self.options.max_commit_delay
        )

    def _write(self, *, finished: bool = False) -> None:
        """One transaction: the batch, the counters, the pending cursor (every record read
        before it is in this batch or already committed), and the end if last."""
        options, name, now = self.options, self.stream.name, utcnow()
        cursor, self._pending = self._pending, None
        with options.store.unit_of_work(writes=True) as session:
            upserted, deleted = self._write_batch(session, now)
            note_task_outcomes(session, options.connection_id, *self.batch.activities(), now)
            self._settle_quarantine(session, now)
            counts = self._counts(upserted, deleted)
            sync_state.save_progress(session, options.connection_id, name, counts, cursor=cursor)
            if finished:
                sync_state.finish_run(
                    session, options.connection_id, name, SyncStatus.SUCCEEDED, counts, now=now
                )
        self.counts = counts  # only once committed
        self.batch.clear()
        self._refused.clear()
        self._stored.clear()
        self._held -= self._gone
        self._gone = set()
        self._last_commit = time.monotonic()
        if options.progress is not None:
            options.progress(name, counts.records_read)

    def _write_batch(self, session: Session, now: datetime) -> tuple[int, int]:
        """The batch in one go; if the database refuses it, a record at a time, and the
        records it refuses join the quarantine."""
        connection_id, force = self.options.connection_id, self.options.full
        try:
            with session.begin_nested():
                return self.batch.write(session, connection_id, now=now, force=force)
        except DataError:
            logger.warning("the database refused a batch of %s: writing it record by record",
                           self.stream.name)  # fmt: skip
        upserted, deleted, refused = self.batch.write_one_by_one(
            session, connection_id, now=now, force=force
        )
        for record, reason in refused:
            self._refuse(
                Refused(record.entity.value, record.crm_id, self._reread_id(record), reason)
            )
        return upserted, deleted

    def _settle_quarantine(self, session: Session, now: datetime) -> None:
        connection_id, name = self.options.connection_id, self.stream.name
        quarantine.hold(session, connection_id, name, self._refused.values(), now=now)
        quarantine.release(session, connection_id, name, self._stored, "stored", now=now)
        quarantine.release(session, connection_id, name, self._gone, "gone", now=now)

    def _end(self, status: StreamStatus, error: str) -> StreamReport:
        """Record a stopped or failed run; the committed cursor and rows stay as they are."""
        self.counts = self._counts(0, 0)
        logger.warning("sync of %s %s: %s", self.stream.name, status.value, error)
        with self.options.store.unit_of_work(writes=True) as session:
            sync_state.finish_run(
                session,
                self.options.connection_id,
                self.stream.name,
                SyncStatus(status.value),
                self.counts,
                now=utcnow(),
                error=error,
            )
        return StreamReport(self.stream.name, status, self.counts, error)

    def _counts(self, upserted: int, deleted: int) -> RunCounts:
        """The run's counts with a write's results added and the API calls brought up to date."""
        counts = self.counts
        return RunCounts(
            records_read=counts.records_read,
            records_upserted=counts.records_upserted + upserted,
            records_deleted=counts.records_deleted + deleted,
            api_calls=self.options.connector.usage().calls - self._calls_before,
            records_quarantined=len(self._quarantined),
        )


def _key_of(item: Item) -> Key:
    if isinstance(item, Deletion):
        return (item.target.value, item.crm_id)
    return (item.entity.value, item.crm_id)
