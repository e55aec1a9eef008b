"""What the outbox workers share: claiming rows without waiting on each other, keeping
a claim alive while its calls run, and finding again the rows a run still holds when it
records what happened.

PostgreSQL claimers skip the rows another worker has locked (``FOR UPDATE SKIP
LOCKED``); SQLite has one writer at a time, and claims run in ``BEGIN IMMEDIATE``
transactions (``Store.unit_of_work(writes=True)``), so there is nothing to add there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVarTuple

from sqlalchemy import Select, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from service.store import Store

log = logging.getLogger(__name__)

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


@contextmanager
def kept_alive(
    store: Store,
    model: Any,
    ids: Collection[int],
    run_id: str,
    *,
    lease: timedelta,
    clock: Callable[[], datetime],
) -> Iterator[None]:
    """Renew this run's lease on ``ids`` every third of ``lease`` while the block runs.

    A batch's calls (the CRM's retries and pacing waits included) can outlast any fixed
    lease; were the lease to run out mid-call, another worker would take the rows over
    and might write the same tasks again. So the lease stays short (a crashed run's rows
    come back soon) and a live run keeps it: a renewal only touches rows this run still
    holds, and a run that dies stops renewing with it. A renewal that fails (the
    database away for a moment) is logged and tried again at the next beat."""
    if not ids:
        yield
        return
    stop = threading.Event()
    wanted = sorted(ids)

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                with store.unit_of_work(writes=True) as session:
                    session.execute(
                        update(model)
                        .where(model.id.in_(wanted), model.claimed_by == run_id)
                        .values(lease_until=clock() + lease)
                    )
            except SQLAlchemyError as exc:
                log.warning("could not renew a lease (%s); trying again", type(exc).__name__)

    keeper = threading.Thread(target=renew, name=f"lease-{run_id[:8]}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
