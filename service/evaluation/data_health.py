"""Which rules an evaluation must not judge because the data they read did not arrive.

A stream whose last sync failed (or that has not synced for longer than the allowed
age) leaves its records as they were: deals that never arrived look like a rep with no
pipeline, and judging on that opens findings, tasks and events about reps who are fine.
So each rule is held back, for this connection and this run, when a metric it reads
comes from such a stream: no finding of it is opened, escalated or resolved, and the
evaluation says why. A connection without sync records (data loaded another way) is
taken as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.records import Entity
from rules.documents import VersionedRule
from service.store.tables import SyncState, SyncStatus

_DEALS = frozenset({Entity.OPPORTUNITY, Entity.OPPORTUNITY_CHANGE})
_ACTIVITIES = frozenset({Entity.ACTIVITY})
_QUOTAS = frozenset({Entity.QUOTA})

#: What each metric reads, besides the reps every rule reads.
READS: Mapping[str, frozenset[Entity]] = {
    "activity_count": _ACTIVITIES,
    "meetings_held": _ACTIVITIES,
    "active_days": _ACTIVITIES,
    "days_since_activity": _ACTIVITIES | _DEALS,
    "pipeline_created": _DEALS,
    "pipeline_coverage": _DEALS | _QUOTAS,
    "quota_pace": _DEALS | _QUOTAS,
    "win_rate": _DEALS,
    "stage_duration": _DEALS,
    "days_in_stage": _DEALS,
    "close_date_pushes": _DEALS,
    "qualification_completeness": _DEALS,
}


def missing_data(
    session: Session, connection_id: int, as_of: datetime, max_age: timedelta | None
) -> dict[Entity, str]:
    """The entities whose data cannot be trusted as of ``as_of``, with the reason."""
    missing: dict[Entity, str] = {}
    states = session.scalars(select(SyncState).where(SyncState.connection_id == connection_id))
    for state in states:
        if state.entity is None:
            continue
        reason = _problem(state, as_of, max_age)
        if reason is not None:
            missing.setdefault(Entity(state.entity), reason)
    return missing


def _problem(state: SyncState, as_of: datetime, max_age: timedelta | None) -> str | None:
    if state.status is SyncStatus.FAILED:
        return f"stream {state.stream} failed: {state.last_error or 'no reason recorded'}"
    if state.last_success_at is None:
        return f"stream {state.stream} has never synced completely"
    if max_age is not None and as_of - state.last_success_at > max_age:
        return f"stream {state.stream} last synced {state.last_success_at:%Y-%m-%d %H:%M} UTC"
    return None


def held_back(rules: Sequence[VersionedRule], missing: Mapping[Entity, str]) -> dict[str, str]:
    """Enabled rules that read missing data, with the reason (disabled rules still run:
    they only resolve their findings)."""
    if not missing:
        return {}
    held: dict[str, str] = {}
    for rule in rules:
        if not rule.document.enabled:
            continue
        reads = frozenset().union(
            *(READS.get(metric.metric, frozenset(Entity)) for metric in rule.document.reads)
        )
        # The reps first: without them nothing is judged, whatever else is missing.
        reasons = [missing[e] for e in (Entity.REP, *sorted(reads)) if e in missing]
        if reasons:
            held[rule.key] = reasons[0]
    return held
