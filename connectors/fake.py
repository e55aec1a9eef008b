"""An in-memory :class:`~connectors.base.Connector` for tests and for code above connectors.

The sync pipeline, the scheduler and the write-back outbox need a CRM whose behaviour a
test controls exactly: which records changed since a cursor, where checkpoints fall, when
the CRM stops or breaks mid-stream. This fake keeps a change log per stream (every
``put`` or ``delete`` appends a version with a global sequence number; the cursor is the
last sequence number covered), so edits and deletions between runs behave like a CRM's
"modified since" query, and re-reads (``lookback``, ``replay_versions``) behave like a
connector's lookback window or a record changing while it is paged through.

Generated streams (``generate``) produce their records lazily from a function, so a test
can sync hundreds of thousands of records without the fake holding them.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import ApiUsage, Stream
from connectors.records import (
    Checkpoint,
    CrmAlert,
    CrmAlertResult,
    Deletion,
    Entity,
    Item,
    Record,
    Rejected,
    TaskChange,
    TaskChangeKind,
    TaskChangeOutcome,
    TaskChangeResult,
    TaskIntent,
    TaskResult,
)

DEFAULT_STREAMS: tuple[Stream, ...] = (
    Stream("reps", Entity.REP, "User", "Id", "SystemModstamp"),
    Stream("opportunities", Entity.OPPORTUNITY, "Opportunity", "Id", "SystemModstamp"),
    Stream(
        "opportunity_changes",
        Entity.OPPORTUNITY_CHANGE,
        "OpportunityHistory",
        "Id",
        "SystemModstamp",
    ),
    Stream("activities", Entity.ACTIVITY, "Task", "Id", "SystemModstamp"),
    Stream("quotas", Entity.QUOTA, "ForecastingQuota", "Id", "SystemModstamp"),
)


class SimulatedCrash(BaseException):
    """Stands in for a killed process: not an ``Exception``, so nothing handles it as one."""


class FakeTransportError(Exception):
    """The low-level cause every injected failure is chained from; it carries the secret.

    Real client libraries put request headers in their errors; chaining injected failures
    from one lets tests prove that callers record only the outer type and message.
    """


@dataclass
class _Fault:
    after: int
    error: BaseException
    stream: str | None
    past_checkpoint: bool


@dataclass(frozen=True)
class _Generated:
    count: int
    make: Callable[[int], Record]


class FakeConnector:
    """A CRM held in memory; see the module docstring for the cursor model.

    ``page_size`` records make one page: one counted API call, then a checkpoint.
    ``lookback`` re-reads that many sequence numbers before the cursor; with
    ``replay_versions`` a read yields every version changed since the cursor (older ones
    first) instead of only the newest of each record.
    """

    def __init__(
        self,
        streams: Sequence[Stream] = DEFAULT_STREAMS,
        *,
        crm: str = "fake",
        page_size: int = 100,
        lookback: int = 0,
        replay_versions: bool = False,
        secret: str | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.crm = crm
        self.page_size = page_size
        self.lookback = lookback
        self.replay_versions = replay_versions
        self.secret = secret or f"fake-{secrets.token_urlsafe(12)}"
        self.calls: Counter[str] = Counter()
        self.api_calls: Counter[str] = Counter()
        self.tasks: dict[str, TaskResult] = {}
        #: Each task's state in the "CRM" by CRM id: open, completed or deleted; a test
        #: completes or deletes one as a manager would.
        self.task_states: dict[str, str] = {}
        self.task_changes: list[TaskChange] = []
        self.alerts: list[CrmAlert] = []
        self.closed = False
        self._streams = {stream.name: stream for stream in streams}
        self._log: dict[str, list[tuple[int, Item]]] = {name: [] for name in self._streams}
        self._generated: dict[str, _Generated] = {}
        self._faults: list[_Fault] = []
        self._seq = 0

    # ------------------------------------------------------------------ arranging data

    def put(self, *records: Item, stream: str | None = None) -> None:
        """Add or edit records (a Deletion hard-deletes), each as a new version; a
        Rejected stands for a version the connector cannot translate."""
        for record in records:
            name = stream or self._stream_for(_entity_of(record))
            self._seq += 1
            self._log[name].append((self._seq, record))

    def retranslate(self, record: Record, *, stream: str | None = None) -> int:
        """Make the untranslatable versions of ``record``'s id read as ``record``, at
        their own sequence numbers: a fix in a connector's translation, not a change in
        the CRM (an incremental read past them does not see them again). Returns how
        many versions changed."""
        name = stream or self._stream_for(_entity_of(record))
        log = self._log[name]
        fixed = 0
        for index, (seq, known) in enumerate(log):
            if isinstance(known, Rejected) and known.crm_id == record.crm_id:
                log[index] = (seq, record)
                fixed += 1
        return fixed

    def generate(self, stream: str, count: int, make: Callable[[int], Record]) -> None:
        """Make ``stream`` yield ``make(0) ... make(count - 1)``, built only when read."""
        self._stream(stream)
        self._generated[stream] = _Generated(count, make)

    def versions(self, stream: str) -> list[Item]:
        """Every version ever put into ``stream``, oldest first (not generated streams)."""
        return [record for _, record in self._log[stream]]

    def latest(self, stream: str) -> dict[str, Item]:
        """The newest version of each record of ``stream`` by CRM id (maybe a Deletion)."""
        return {record.crm_id: record for _, record in self._log[stream]}

    def fail_after(
        self,
        records: int,
        error: BaseException,
        *,
        stream: str | None = None,
        past_checkpoint: bool = False,
    ) -> None:
        """Raise ``error`` once, after ``records`` records of one read.

        By default it fires at the first chance, which is before the checkpoint that
        would follow record ``records`` when one does; with ``past_checkpoint`` it fires
        just after that checkpoint instead. ``error`` may be :class:`SyncStopped`, any
        exception, or :class:`SimulatedCrash`. It is chained from a transport error that
        carries :attr:`secret`.
        """
        self._faults.append(_Fault(records, error, stream, past_checkpoint))

    # ------------------------------------------------------------------ the Protocol

    def streams(self) -> Sequence[Stream]:
        self.calls["streams"] += 1
        return tuple(self._streams.values())

    def read(self, stream: Stream, cursor: Mapping[str, Any] | None) -> Iterator[Item | Checkpoint]:
        """Records changed after ``cursor["seq"]`` in sequence order, a checkpoint per page."""
        self.calls["read"] += 1
        start = int(cursor["seq"]) if cursor else 0
        return self._paged(stream.name, start, self._changes(stream.name, start))

    def reread(self, stream: Stream, crm_ids: Sequence[str]) -> Iterator[Item]:
        """The newest version of each id still there, one API call per page of ids."""
        self.calls["reread"] += 1
        self.api_calls[stream.name] += -(-len(crm_ids) // self.page_size)
        latest = self.latest(stream.name)
        for crm_id in dict.fromkeys(crm_ids):
            record = latest.get(crm_id)
            if record is not None and not isinstance(record, Deletion):
                yield record

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        """Create each task once; a repeated key finds the task made before (as the real
        connectors' marker search does, whatever ``verify_existing`` says)."""
        self.calls["write_tasks"] += 1
        self.api_calls["tasks"] += 1
        results = []
        for intent in intents:
            known = self.tasks.get(intent.key)
            if known is None:
                known = TaskResult(intent.key, crm_id=f"fake-task-{len(self.tasks) + 1}")
                self.tasks[intent.key] = known
                self.task_states[str(known.crm_id)] = "open"
                results.append(known)
            else:
                results.append(TaskResult(intent.key, crm_id=known.crm_id, already_existed=True))
        return results

    def change_tasks(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        """As the real connectors: a completed or deleted task is reported, not touched."""
        self.calls["change_tasks"] += 1
        self.api_calls["tasks"] += 2  # a read, then the update
        results = []
        for change in changes:
            state = self.task_states.get(change.crm_id, "deleted")
            if state == "deleted":
                results.append(TaskChangeResult(change.key, TaskChangeOutcome.DELETED))
            elif state == "completed":
                results.append(TaskChangeResult(change.key, TaskChangeOutcome.ALREADY_COMPLETED))
            else:
                if change.kind is TaskChangeKind.COMPLETE:
                    self.task_states[change.crm_id] = "completed"
                self.task_changes.append(change)
                results.append(TaskChangeResult(change.key, TaskChangeOutcome.CHANGED))
        return results

    def send_alerts(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        self.calls["send_alerts"] += 1
        self.api_calls["alerts"] += 1
        self.alerts.extend(alerts)
        return [CrmAlertResult(alert.key, sent=True) for alert in alerts]

    def usage(self) -> ApiUsage:
        self.calls["usage"] += 1
        return ApiUsage(calls=sum(self.api_calls.values()), by_endpoint=dict(self.api_calls))

    def close(self) -> None:
        self.calls["close"] += 1
        self.closed = True

    # ------------------------------------------------------------------ reading

    def _changes(self, stream: str, start: int) -> Iterator[tuple[int, Item]]:
        """(seq, record) pairs to yield from ``start``, lookback included, oldest first."""
        generated = self._generated.get(stream)
        begin = max(0, start - self.lookback)
        if generated is not None:
            return ((i + 1, generated.make(i)) for i in range(begin, generated.count))
        log = self._log[stream]
        if self.replay_versions:
            return ((seq, record) for seq, record in log if seq > begin)
        newest = {record.crm_id: seq for seq, record in log}
        return ((seq, rec) for seq, rec in log if seq > begin and newest[rec.crm_id] == seq)

    def _paged(
        self, stream: str, start: int, changes: Iterator[tuple[int, Item]]
    ) -> Iterator[Item | Checkpoint]:
        covered, count = start, 0
        self.api_calls[stream] += 1
        for seq, record in changes:
            self._maybe_fail(stream, count, before_checkpoint=False)
            if count and count % self.page_size == 0:
                self.api_calls[stream] += 1
            yield record
            count += 1
            covered = max(covered, seq)
            if count % self.page_size == 0:
                self._maybe_fail(stream, count, before_checkpoint=True)
                yield Checkpoint({"seq": covered})
        if count % self.page_size:
            self._maybe_fail(stream, count, before_checkpoint=True)
            yield Checkpoint({"seq": covered})
        self._maybe_fail(stream, count, before_checkpoint=False)

    def _maybe_fail(self, stream: str, count: int, *, before_checkpoint: bool) -> None:
        for fault in self._faults:
            if fault.stream not in (None, stream) or count < fault.after:
                continue
            if before_checkpoint and fault.past_checkpoint:
                continue
            self._faults.remove(fault)
            authorization = f"Bearer {self.secret}"
            cause = FakeTransportError(f"request failed; Authorization: {authorization}")
            raise fault.error from cause

    # ------------------------------------------------------------------ helpers

    def _stream(self, name: str) -> Stream:
        try:
            return self._streams[name]
        except KeyError:
            raise KeyError(f"the fake has no stream {name!r}") from None

    def _stream_for(self, entity: Entity) -> str:
        for stream in self._streams.values():
            if stream.entity is entity:
                return stream.name
        raise KeyError(f"the fake has no stream of {entity.value} records")


def _entity_of(record: Item) -> Entity:
    return record.target if isinstance(record, Deletion) else record.entity
