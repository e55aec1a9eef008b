"""A replay over the store: the pure :class:`~rules.backtest.Replay` fed, step by step,
with a source that reads only what the store knew at each step's moment.

Nothing is written: the findings and tasks of the replay live in its scratch memory, and
the one transaction it reads in is rolled back (the metric reads make temporary tables,
nothing else). Each step builds its source exactly as a live evaluation does
(:func:`~service.evaluation.run.source_as_of`), so a step decides what a live evaluation
at that instant, on a store holding the replay's findings, would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rules.backtest import Replay
from rules.documents import VersionedRule
from rules.evaluation import EvaluationSettings
from service.evaluation.run import source_as_of, without_jit
from service.store.engine import Store

Progress = Callable[[datetime], None]
"""Called after each step with its moment."""


@dataclass(frozen=True)
class ReplayRun:
    connection_id: int
    replay: Replay


def replay_connection(
    store: Store,
    connection_id: int,
    rules: Sequence[VersionedRule],
    moments: Sequence[datetime],
    *,
    settings: EvaluationSettings | None = None,
    progress: Progress | None = None,
) -> ReplayRun:
    """Evaluate ``rules`` at each of ``moments`` (increasing), as of each."""
    replay = Replay(rules, settings)
    with store.unit_of_work() as session:
        without_jit(session)
        for moment in moments:
            with source_as_of(session, connection_id, moment) as source:
                replay.step(source, moment)
            if progress is not None:
                progress(moment)
        session.rollback()
    return ReplayRun(connection_id, replay)
