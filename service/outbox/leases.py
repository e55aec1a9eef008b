"""What the outbox workers share: claiming rows without waiting on each other, and
finding again the rows a run still holds when it records what happened.

PostgreSQL claimers skip the rows another worker has locked (``FOR UPDATE SKIP
LOCKED``); SQLite has one writer at a time, and claims run in ``BEGIN IMMEDIATE``
transactions (``Store.unit_of_work(writes=True)``), so there is nothing to add there.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

Ts = TypeVarTuple("Ts")


def skipping_locked(query: Select[*Ts], session: Session, *of: Any) -> Select[*Ts]:
    """``query`` locking its rows (``of``: which tables) and skipping rows already locked."""
    if session.get_bind().dialect.name != "postgresql":
        return query
    return query.with_for_update(skip_locked=True, of=of or None)


def still_held(session: Session, model: Any, ids: Collection[int], run_id: str) -> dict[int, Any]:
    """The rows among ``ids`` this run still holds, by id, in one query: a row whose lease
    another run took over after ours expired is that run's to record."""
    if not ids:
        return {}
    rows = session.scalars(select(model).where(model.id.in_(ids), model.claimed_by == run_id))
    return {row.id: row for row in rows}
