"""Backtest jobs: queued by ``POST /v1/backtests``, run one at a time on a worker
thread, and read back by id.

**Per process, until a ``backtest_jobs`` table exists.** The registry is an attribute of
the app (``app.state.backtest_jobs``, made on first use), not of the module: two apps
never share jobs. Its jobs live as long as the process: a restart forgets them (their
id then answers 404), replicas behind one load balancer do not see each other's, and
a job running when the process stops is lost (start it again). A table (id, state,
request, progress, error, scores, report, created by and when) would make them durable
and shared; then this class becomes its repository and the worker claims rows.

One job runs at a time: a replay reads a connection's whole history and keeps a core and
the database busy, so a second one at once would only slow both. At most
:data:`MAX_WAITING` jobs are queued or running (more: 429); the newest :data:`MAX_KEPT`
finished ones are kept, report included, older ones forgotten.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from rules.documents import VersionedRule
from rules.evaluation import EvaluationSettings
from rules.periods import PeriodUnit
from service.api.auth import store_of
from service.api.backtest_views import JobState, Scores, scores_view
from service.backtest.report import render_report
from service.backtest.run import run_backtest
from service.store import Store
from service.store.tables.base import utcnow

logger = logging.getLogger(__name__)
MAX_WAITING = 8
MAX_KEPT = 50
_MAKING = threading.Lock()  # guards making an app's registry, holds no job


class TooBusy(Exception):  # noqa: N818 - reads as what the caller is told
    """As many jobs wait as :data:`MAX_WAITING`."""


@dataclass(frozen=True)
class JobRequest:
    """What to replay, resolved and checked when the job was asked for."""

    connection_id: int
    connection_name: str
    rules: tuple[VersionedRule, ...]
    start: datetime
    end: datetime
    every: PeriodUnit
    miss_below: float
    settings: EvaluationSettings
    steps_total: int


@dataclass(frozen=True)
class Job:
    """A job as of now; each change replaces it whole (readers never see half of one)."""

    id: str
    request: JobRequest
    created_by: str
    created_at: datetime
    state: JobState = "queued"
    steps_done: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    scores: Scores | None = None
    report: str | None = field(default=None, repr=False)


class BacktestJobs:
    """The app's backtest jobs and the worker thread that runs them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # in the order they were asked for
        self._worker: threading.Thread | None = None

    def submit(self, request: JobRequest, *, created_by: str) -> Job:
        """Queue a job; the worker starts if it is not running. Raises :class:`TooBusy`."""
        with self._lock:
            waiting = [j for j in self._jobs.values() if j.state in ("queued", "running")]
            if len(waiting) >= MAX_WAITING:
                raise TooBusy(f"{len(waiting)} backtests are queued or running")
            job = Job(uuid.uuid4().hex, request, created_by, utcnow())
            self._jobs[job.id] = job
            self._forget_old()
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="backtest-jobs", daemon=True
                )
                self._worker.start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _work(self) -> None:
        """Run queued jobs in order; stop when none is left (the next submit starts a
        new worker), so an idle app holds no thread."""
        while True:
            with self._lock:
                queued = next((j for j in self._jobs.values() if j.state == "queued"), None)
                if queued is None:
                    self._worker = None
                    return
                job = self._set(queued.id, state="running", started_at=utcnow())
            self._run(job)

    def _run(self, job: Job) -> None:
        asked = job.request
        try:
            backtest = run_backtest(
                self._store, asked.connection_id, asked.rules, asked.start, asked.end,
                every=asked.every, settings=asked.settings, miss_below=asked.miss_below,
                progress=lambda _moment: self._advance(job.id),
            )  # fmt: skip
            scores = scores_view(backtest)
            report = render_report(backtest, connection=asked.connection_name)
        except Exception as exc:
            logger.exception("backtest %s failed", job.id)
            self._finish(job.id, state="failed", error=_reason(exc))
            return
        self._finish(job.id, state="succeeded", scores=scores, report=report,
                     steps_done=asked.steps_total)  # fmt: skip

    def _advance(self, job_id: str) -> None:
        with self._lock:
            self._set(job_id, steps_done=self._jobs[job_id].steps_done + 1)

    def _finish(self, job_id: str, **changes: object) -> None:
        with self._lock:
            self._set(job_id, finished_at=utcnow(), **changes)

    def _set(self, job_id: str, **changes: object) -> Job:
        job = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]
        self._jobs[job_id] = job
        return job

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state in ("succeeded", "failed")]
        for job_id in finished[: max(0, len(finished) - MAX_KEPT)]:
            del self._jobs[job_id]


def jobs_of(request: Request) -> BacktestJobs:
    """The app's registry, made on first use."""
    state = request.app.state
    with _MAKING:
        jobs = getattr(state, "backtest_jobs", None)
        if not isinstance(jobs, BacktestJobs):
            jobs = BacktestJobs(store_of(request))
            state.backtest_jobs = jobs
    return jobs


def _reason(exc: Exception) -> str:
    """What a client is told: a checked problem's own words; a database error only by
    its kind (its text may quote SQL and values), the rest in the service log."""
    if isinstance(exc, SQLAlchemyError):
        return f"the store failed during the replay ({type(exc).__name__}); see the service log"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"the replay failed ({type(exc).__name__}); see the service log"
