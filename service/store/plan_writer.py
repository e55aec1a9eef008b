"""Where the rules core's intents land: findings, their transitions and the outboxes.

Each intent of a plan is written in the caller's transaction, so findings, their
transitions, queued coaching tasks and webhook events commit together or not at all.
Every write is idempotent: a task or event already queued under the same deterministic
key is left alone, and a finding refresh that changes nothing writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import (
    Select,
    String,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from rules.drift import Bounds
from rules.intents import (
    Alert,
    CreateCoachingTask,
    EscalateFinding,
    KeepFinding,
    OpenFinding,
    ResolveFinding,
)
from rules.metrics import SubjectKey
from service.store import json_codec
from service.store.followups import FollowUpCounts
from service.store.tables import (
    CrmWrite,
    Finding,
    FindingState,
    FindingTransition,
    Opportunity,
    OutboxState,
    Rep,
    Rule,
    SubjectKind,
    WebhookEvent,
)
from service.store.tables import Severity as StoredSeverity


@dataclass
class AppliedPlan:
    """What applying a plan changed, for reports and tests."""

    opened: list[int] = field(default_factory=list)
    #: Live findings the plan left exactly as they were.
    kept: int = 0
    #: Live findings whose values or evidence changed (``eased`` ones included).
    refreshed: int = 0
    #: Findings whose severity went down (the transition ``eased``).
    eased: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    #: Tasks queued, of them hygiene tasks for deal owners (the rest coach managers).
    tasks_queued: int = 0
    hygiene_queued: int = 0
    events_queued: int = 0
    skipped: list[str] = field(default_factory=list)
    followups: FollowUpCounts = field(default_factory=FollowUpCounts)


class PlanWriter:
    """Applies one plan's intents to the store inside the caller's transaction.

    Writes go out in batches, not one statement per intent: an org's first evaluation
    opens thousands of findings at once, each with a transition, an event and perhaps a
    task, and one round trip each would cost more than computing all the metrics. The
    order is fixed: new findings first (their ids name them in transitions, tasks and
    events), then the changed ones, then the outboxes.
    """

    def __init__(self, session: Session, connection_id: int, as_of: datetime) -> None:
        self.session, self.connection_id, self.as_of = session, connection_id, as_of
        self.applied = AppliedPlan()
        self._rule_ids = dict(session.execute(select(Rule.key, Rule.id)).all())
        self._opened: dict[tuple[str, SubjectKey], int] = {}
        self._reps: dict[str, int] = {}
        self._deals: dict[str, int] = {}
        self._live: dict[int, Finding] = {}
        self._new: list[tuple[tuple[str, SubjectKey], dict[str, Any]]] = []
        self._transitions: list[dict[str, Any]] = []
        self._tasks: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    def load_subjects(self, subjects: Iterable[SubjectKey]) -> None:
        """Row ids of every rep and deal the plan names, in two queries."""
        named = list(subjects)
        reps = {s.rep_crm_id for s in named}
        deals = {s.deal_crm_id for s in named if s.deal_crm_id}
        self._reps = _ids(self.session, Rep, self.connection_id, reps)
        self._deals = _ids(self.session, Opportunity, self.connection_id, deals)

    def load_findings(self, finding_ids: Iterable[str | int]) -> None:
        """The live findings the plan keeps, escalates or resolves, in one query."""
        wanted = sorted({int(finding_id) for finding_id in finding_ids})
        for chunk in _chunks(wanted, 5000):
            found = self.session.scalars(select(Finding).where(Finding.id.in_(chunk)))
            self._live.update((finding.id, finding) for finding in found)

    def open(self, intent: OpenFinding) -> None:
        rep_id = self._reps.get(intent.subject.rep_crm_id)
        deal_id = self._deals.get(intent.subject.deal_crm_id or "")
        if rep_id is None or (intent.subject.deal_crm_id and deal_id is None):
            self.applied.skipped.append(f"{intent.rule_key}: {intent.subject} not in the store")
            return
        row = {
            "rule_id": self._rule_ids[intent.rule_key],
            "rule_version": intent.rule_version,
            "subject_kind": SubjectKind.DEAL if deal_id else SubjectKind.REP,
            "rep_id": rep_id,
            "opportunity_id": deal_id,
            "state": FindingState.OPEN,
            "severity": StoredSeverity(intent.severity.value),
            "period_start": intent.period_start.date(),
            "period_end": (intent.period_end - timedelta(microseconds=1)).date(),
            "observed": intent.observed,
            "standard": standard_document(intent.standard),
            "baseline": intent.baseline,
            # JSON-ready already (the core's promise): written as it is, not copied.
            "evidence": intent.evidence,
            "opened_at": self.as_of,
            "updated_at": self.as_of,
        }
        self._new.append(((intent.rule_key, intent.subject), row))

    def keep(self, intent: KeepFinding | EscalateFinding) -> None:
        finding = self._finding(intent.finding_id)
        if finding is None:
            return
        changes: dict[str, Any] = {
            "rule_version": intent.rule_version,
            "severity": StoredSeverity(intent.severity.value),
            "observed": intent.observed,
            "standard": standard_document(intent.standard),
            "evidence": intent.evidence,
        }
        changed = _changed(finding, changes)
        if isinstance(intent, EscalateFinding):
            self.applied.escalated.append(finding.id)
        elif not changed:
            self.applied.kept += 1
            return
        for name, value in changed.items():
            setattr(finding, name, value)
        finding.updated_at = self.as_of
        if "severity" in changed or isinstance(intent, EscalateFinding):
            action = "escalated" if isinstance(intent, EscalateFinding) else "eased"
            self._transition(finding, action)
            if action == "eased":
                self.applied.eased.append(finding.id)
        if not isinstance(intent, EscalateFinding):
            self.applied.refreshed += 1

    def resolve(self, intent: ResolveFinding) -> None:
        finding = self._finding(intent.finding_id)
        if finding is None or finding.state is FindingState.RESOLVED:
            return
        finding.state, finding.resolved_at, finding.updated_at = (
            FindingState.RESOLVED,
            self.as_of,
            self.as_of,
        )
        finding.observed = intent.observed
        finding.evidence = {**_json(intent.evidence), "resolution": intent.reason}
        self._transition(finding, "resolved")
        self.applied.resolved.append(finding.id)

    def write_findings(self) -> None:
        """Insert the new findings (ids back in order), then every transition."""
        if self._new:
            ids = self._insert_findings([row for _, row in self._new])
            for (key, row), finding_id in zip(self._new, ids, strict=True):
                self._opened[key] = finding_id
                self.applied.opened.append(finding_id)
                self._transitions.append(_transition_row(finding_id, self.as_of, "opened", row))
            self._new = []
        self.session.flush()
        if self._transitions:
            if self._postgresql:
                self.session.execute(_transitions_from_findings(self._transitions))
            else:
                self.session.execute(insert(FindingTransition), self._transitions)
            self._transitions = []

    def _insert_findings(self, rows: list[dict[str, Any]]) -> list[int]:
        """The new findings' ids, in the order of ``rows``.

        PostgreSQL gets one statement reading a JSON document; the ids are matched back by
        rule and subject, unique among live findings (a partial unique index), rather
        than trusting the order RETURNING happens to keep. SQLite keeps SQLAlchemy's
        ordered batches."""
        if not self._postgresql:
            statement = insert(Finding).returning(Finding.id, sort_by_parameter_order=True)
            return list(self.session.scalars(statement, rows).all())
        table = Finding.__table__
        c = table.c
        returned = self.session.execute(
            _insert_from_document(Finding, rows).returning(
                c.id, c.rule_id, c.rep_id, c.opportunity_id
            )
        )
        by_subject = {(r.rule_id, r.rep_id, r.opportunity_id): r.id for r in returned}
        return [by_subject[row["rule_id"], row["rep_id"], row["opportunity_id"]] for row in rows]

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def queue_task(self, task: CreateCoachingTask) -> None:
        finding_id = task.finding_id or self._opened.get((task.rule_key, task.subject_key))
        self._tasks.append(
            {
                "connection_id": self.connection_id,
                "idempotency_key": task.key,
                "finding_id": int(finding_id) if finding_id is not None else None,
                "rule_key": task.rule_key,
                "rep_crm_id": task.rep_crm_id,
                "opportunity_crm_id": task.deal_crm_id,
                "assignee_crm_id": task.assignee_crm_id,
                "budget_owner_crm_id": task.budget_owner_crm_id,
                "task_kind": task.kind,
                "payload": task_payload(task),
                "state": OutboxState.PENDING,
                "attempts": 0,
                "available_at": self.as_of,
                "created_at": self.as_of,
            }
        )

    def queue_alert(self, alert: Alert) -> None:
        finding_id = alert.payload.get("finding_id") or self._opened.get(
            (alert.rule_key, alert.subject)
        )
        payload = {**alert.payload, "finding_id": finding_id}
        self._events.append(
            {
                "event_id": event_id(alert.event, alert.rule_key, alert.subject, finding_id),
                "type": alert.event,
                "connection_id": self.connection_id,
                "payload": payload,
                "created_at": self.as_of,
            }
        )

    def write_outboxes(self) -> None:
        """Queue the tasks and events; one already queued under its key is left alone."""
        key = ("connection_id", "idempotency_key")
        hygiene = [row for row in self._tasks if row["task_kind"] == "hygiene"]
        coaching = [row for row in self._tasks if row["task_kind"] != "hygiene"]
        queued_hygiene = self._insert_new(CrmWrite, hygiene, key)
        self.applied.hygiene_queued += queued_hygiene
        self.applied.tasks_queued += queued_hygiene + self._insert_new(CrmWrite, coaching, key)
        self.applied.events_queued += self._insert_new(WebhookEvent, self._events, ("event_id",))
        self._tasks, self._events = [], []
        self._cancel_undelivered(self.applied.resolved)

    def _cancel_undelivered(self, finding_ids: Sequence[int]) -> None:
        """The resolved findings' tasks never sent are cancelled: a manager would get a
        task about a drift that is over. A task with an attempt behind it may be in the
        CRM already (a run died mid-write), so it stays queued: delivering it adopts it
        by marker, and a task in the CRM is one driftcoach can find again. (A claim
        counts its attempt as it takes the lease, so no leased task has none.)"""
        for chunk in _chunks(finding_ids, 5000):
            self.session.execute(
                update(CrmWrite)
                .where(
                    CrmWrite.finding_id.in_(chunk),
                    CrmWrite.state == OutboxState.PENDING,
                    CrmWrite.attempts == 0,
                )
                .values(state=OutboxState.CANCELLED, last_error="the finding resolved first")
            )

    def _finding(self, finding_id: str | int) -> Finding | None:
        found = self._live.get(int(finding_id))
        return found if found is not None else self.session.get(Finding, int(finding_id))

    def _insert_new(
        self, model: Any, rows: Sequence[Mapping[str, Any]], key: tuple[str, ...]
    ) -> int:
        """INSERT the rows but those whose key exists (portable ON CONFLICT DO NOTHING);
        returns how many went in."""
        if not rows:
            return 0
        table = model.__table__
        if self._postgresql:
            document = _insert_from_document(model, rows)
            statement = document.on_conflict_do_nothing(index_elements=key)
            return len(self.session.execute(statement.returning(table.c.id)).all())
        batched = sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
        inserted = 0
        for chunk in _chunks(list(rows), 1000):
            result = self.session.execute(batched.returning(table.c.id), chunk)
            inserted += len(result.all())
        return inserted

    def _transition(self, finding: Finding, action: str) -> None:
        values = {name: getattr(finding, name) for name in _COPIED}
        self._transitions.append(_transition_row(finding.id, self.as_of, action, values))


_DOCUMENTS = frozenset({"standard", "evidence"})
#: What a transition records of its finding as the finding stands after the change.
_COPIED = ("state", "severity", "rule_version", "observed", "evidence")


def _changed(stored: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``values`` that differ from ``stored``'s attributes of the same names.

    The stored documents came back from JSON. A new document equal to its stored one as
    it is (the common case of a re-run) is left at that, never copied; one that is not
    makes the same trip through JSON (tuples become lists) and is compared again, and
    it is that copy that gets stored."""
    changed: dict[str, Any] = {}
    for name, new in values.items():
        before = getattr(stored, name)
        if before == new:
            continue
        after = _json(new) if name in _DOCUMENTS else new
        if before != after:
            changed[name] = after
    return changed


def _insert_from_document(model: Any, rows: Sequence[Mapping[str, Any]]) -> postgresql.Insert:
    """PostgreSQL: the rows as one JSON document read by ``jsonb_populate_recordset``.

    A VALUES list of thousands of rows is SQL of tens of thousands of parameters, which
    the driver parses and the server plans anew for every batch; column arrays would
    have the driver escape every quote of every evidence document. One JSON text is
    neither: the server reads each value as the column's type (JSON columns take the
    nested documents as they are)."""
    names = list(rows[0])
    return postgresql.insert(model.__table__).from_select(names, _document_rows(model, rows))


def _document_rows(model: Any, rows: Sequence[Mapping[str, Any]]) -> Select[Any]:
    """The rows (all with the same keys) read back from one JSON document, each value
    as its column in ``model``'s table."""
    table, names = model.__table__, list(rows[0])
    # Handed to the driver as a JSONB parameter whose text is made by _document_bytes:
    # the document (megabytes on a first evaluation) goes out as orjson wrote it, never
    # decoded into a str and encoded back.
    document = Jsonb(list(rows), dumps=_document_bytes)
    records = func.jsonb_populate_recordset(
        literal_column(f"NULL::{table.name}"), bindparam("rows", document, NullType())
    ).table_valued(*names)
    return select(*(records.c[name] for name in names))


def _document_bytes(rows: Any) -> bytes:
    """The rows as JSON text in UTF-8. orjson writes times, dates and enums itself, as
    ISO 8601 text and their values, which the server reads back as the columns' types;
    what it refuses goes through the store's codec."""
    try:
        return orjson.dumps(rows, default=_json_scalar)
    except TypeError:  # orjson.JSONEncodeError
        return json_codec.dumps(rows, default=_json_scalar).encode()


def _transitions_from_findings(rows: Sequence[Mapping[str, Any]]) -> postgresql.Insert:
    """PostgreSQL: a transition records its finding as it stands after the change (the
    findings are written and flushed first), so the server copies the copied columns
    from the findings table and only (finding, time, action) travel. The evidence, the
    bulk of every row, is then neither sent nor parsed a second time."""
    sent = ("finding_id", "at", "action")
    records = _document_rows(FindingTransition, [{k: r[k] for k in sent} for r in rows])
    transitions = records.subquery("sent")
    findings = Finding.__table__
    source = select(*transitions.c, *(findings.c[name] for name in _COPIED)).join_from(
        transitions, findings, findings.c.id == transitions.c.finding_id
    )
    return postgresql.insert(FindingTransition).from_select([*sent, *_COPIED], source)


def _json_scalar(value: Any) -> Any:
    """Times and dates as ISO 8601 text, numbers as their exact text, for the server to
    read back as the column's type."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a column value")


def _transition_row(
    finding_id: int, at: datetime, action: str, finding: Mapping[str, Any]
) -> dict[str, Any]:
    copied = {name: finding[name] for name in _COPIED}
    return {"finding_id": finding_id, "at": at, "action": action, **copied}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def standard_document(bounds: Bounds | None) -> dict[str, Any]:
    if bounds is None:
        return {}
    return {"min": bounds.minimum, "max": bounds.maximum}


def task_payload(task: CreateCoachingTask) -> dict[str, Any]:
    """The CRM task as the write-back worker will send it (a ``TaskIntent``'s fields)."""
    return {
        "key": task.key,
        "assignee_crm_id": task.assignee_crm_id,
        "subject": task.subject,
        "body": task.body,
        "due_date": task.due_on.isoformat(),
        "priority": task.priority,
        "rep_crm_id": task.rep_crm_id,
        "opportunity_crm_id": task.deal_crm_id,
        "severity": task.severity.value,
    }


def event_id(event: str, rule_key: str, subject: SubjectKey, finding_id: object) -> str:
    """Deterministic: the same transition of the same finding is the same event."""
    text = f"{event}|{rule_key}|{subject.rep_crm_id}|{subject.deal_crm_id}|{finding_id}"
    return "evt_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _ids(session: Session, model: Any, connection_id: int, crm_ids: set[str]) -> dict[str, int]:
    if not crm_ids:
        return {}
    wanted = sorted(crm_ids)
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: an IN list of thousands of deals is as many placeholders
        # for SQLAlchemy to expand and the driver to parse.
        named = model.crm_id == any_(bindparam("crm_ids", wanted, postgresql.ARRAY(String())))
    else:
        named = model.crm_id.in_(wanted)
    rows = session.execute(
        select(model.crm_id, model.id).where(model.connection_id == connection_id, named)
    )
    return dict(rows.all())


def _json(value: Any) -> Any:
    """As the JSON column gives it back (lists, not tuples), so comparisons are exact."""
    return json_codec.loads(json_codec.dumps(value, default=str))
