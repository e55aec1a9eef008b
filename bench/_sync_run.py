"""The run both sync benchmarks share; each driver adds only what its CRM does differently.

A sync benchmark (``bench.sync_salesforce``, ``bench.sync_hubspot``) starts the sandbox,
then per backend: a scratch store with one connection; the sandbox's own counts; a first
sync in a child process (:mod:`bench._sync_child`: it reports its wall and CPU time, the
time spent in store transactions and its peak RSS), with the sandbox's meter reset
before it; the same child doing everything but the sync (the memory baseline); the raw
``executemany`` baseline; a share of the records changed through the CRM's API; an
incremental sync in a child again. :class:`SyncBench` is that run; a driver's subclass
says how to reach its CRM, count, change and print. Keeping one copy matters because
the two benchmarks' figures are read side by side: a difference in how they are run
would show up as a difference between the CRMs.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select

from bench._common import (
    DEFAULT_POSTGRES_URL,
    InsertBaseline,
    SandboxAdmin,
    SandboxProcess,
    migrated_store,
    progress,
    ratio,
    raw_insert_baseline,
    run_child,
    scratch_database,
    table,
)
from service.store import Store
from service.store.connections import add_connection
from service.store.tables import Activity, CrmKind, Opportunity

CountsT = TypeVar("CountsT")
IDLE_TIMEOUT_SECONDS = 300.0


# --------------------------------------------------------------------------- arguments


def argument_parser(
    module: str, doc: str | None, *, reps: int, managers: int, deal_scale: float
) -> argparse.ArgumentParser:
    """The options every sync benchmark takes, with the driver's default org size."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=doc.split("\n\n")[0] if doc else None
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--managers", type=int, default=managers)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--deal-scale", type=float, default=deal_scale)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date.today() - timedelta(days=2),  # noqa: DTZ011 - the org's local "today"
        help="last day of the org's history (default: two days ago; see the module doc)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="added to every CRM answer, as a real CRM's round trip (default: none)",
    )
    parser.add_argument(
        "--in-turn",
        action="store_true",
        help="also time a first sync with reads and writes in turn (no read-ahead), into a"
        " fresh store: what the sync's read-ahead buys, as a ratio",
    )
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def sandbox_arguments(args: argparse.Namespace, placement: str) -> list[str]:
    """``driftcoach sandbox`` options for the org the arguments describe, in one CRM."""
    return [
        "--placement", placement,
        "--seed", str(args.seed),
        "--reps", str(args.reps),
        "--managers", str(args.managers),
        "--months", str(args.months),
        "--deal-scale", str(args.deal_scale),
        "--as-of", args.as_of.isoformat(),
    ]  # fmt: skip


def org_line(args: argparse.Namespace) -> str:
    """The start of the first printed line: which org."""
    return (
        f"org: seed {args.seed}, {args.managers} managers, {args.reps} reps, {args.months} months"
        f" to {args.as_of}, deal scale {args.deal_scale}"
    )


# --------------------------------------------------------------------------- one backend


@dataclass
class BackendRun(Generic[CountsT]):
    """Everything measured on one backend; ``counts`` are the sandbox's own, per CRM."""

    backend: str
    counts: CountsT
    full: dict[str, Any] = field(default_factory=dict)
    full_meter: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    sandbox_cpu_seconds: float = 0.0
    baseline: InsertBaseline = field(default_factory=InsertBaseline)
    changes: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    incremental: dict[str, Any] = field(default_factory=dict)
    incremental_meter: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    in_turn: dict[str, Any] = field(default_factory=dict)


class SyncBench(ABC, Generic[CountsT]):
    """One benchmark run against a started sandbox; a driver fills in its CRM's parts."""

    module: ClassVar[str]  # run as ``python -m module``, also for the child
    crm: ClassVar[tuple[str, CrmKind]]  # the connection's name and kind
    label: ClassVar[str]  # scratch databases' prefix
    changing: ClassVar[str]  # what the incremental run changes, for the progress line
    child_timeout: ClassVar[float]  # seconds a sync child may take

    def __init__(
        self, args: argparse.Namespace, details: dict[str, Any], sandbox: SandboxProcess
    ) -> None:
        self.args, self.details, self.sandbox = args, details, sandbox

    @property
    @abstractmethod
    def admin(self) -> SandboxAdmin: ...

    @abstractmethod
    def payload(self) -> dict[str, Any]:
        """The child's CRM settings (credentials, URLs), besides the store's."""

    @abstractmethod
    def count(self, backend: str, now: datetime) -> CountsT:
        """The sandbox's own counts (printed), before the first sync."""

    @abstractmethod
    def change(
        self, run: BackendRun[CountsT], store: Store, payload: dict[str, Any], since: datetime
    ) -> dict[str, Any]:
        """Change records through the API and count what changed (``run.changes``,
        ``run.changed``); returns the incremental child's payload."""

    @abstractmethod
    def stored_edits(self, store: Store, connection_id: int) -> dict[str, int]: ...

    @abstractmethod
    def print_backend(self, run: BackendRun[CountsT]) -> None: ...

    @abstractmethod
    def summary_rows(self, run: BackendRun[CountsT]) -> list[tuple[object, ...]]: ...

    def close(self) -> None:
        """Release the driver's own clients."""

    def run_backend(self, backend: str) -> BackendRun[CountsT]:
        """Every measurement on one backend, from the seeded data (the sandbox is reset)."""
        args = self.args
        self.admin.reset()
        if args.latency_ms:  # after the reset, which clears faults
            self.admin.set_faults({"latency_ms": args.latency_ms})
        with scratch_database(backend, args.postgres_url, f"{self.label}_store") as url:
            store = migrated_store(url)
            try:
                with store.unit_of_work() as session:
                    connection_id = add_connection(session, *self.crm, {}).id
                payload = {
                    "database_url": url,
                    "connection_id": connection_id,
                    **self.payload(),
                    "batch_size": args.batch_size,
                }
                run = self._measure_full(backend, payload)
                with scratch_database(backend, args.postgres_url, f"{self.label}_raw") as raw:
                    progress(f"{backend}: raw executemany baseline")
                    run.baseline = raw_insert_baseline(
                        url, raw, connection_id, batch_size=args.batch_size
                    )
                self._measure_incremental(run, store, payload)
            finally:
                store.dispose()
        return run

    def _now(self) -> datetime:
        return datetime.fromisoformat(self.admin.now()).astimezone(UTC)

    def _measure_full(self, backend: str, payload: dict[str, Any]) -> BackendRun[CountsT]:
        progress(f"{backend}: counting the sandbox's records")
        run = BackendRun(backend, self.count(backend, self._now()))
        progress(f"{backend}: first sync (child process)")
        self.admin.reset_meter()
        sandbox_cpu = self.sandbox.cpu_seconds()
        child = {**payload, "mode": "sync"}
        run.full = run_child(self.module, child, timeout=self.child_timeout)
        run.sandbox_cpu_seconds = self.sandbox.cpu_seconds() - sandbox_cpu
        run.full_meter = self.admin.meter()
        progress(f"{backend}: first sync took {run.full['wall_seconds']:.1f}s; idle child")
        run.idle = run_child(self.module, {**payload, "mode": "idle"}, timeout=IDLE_TIMEOUT_SECONDS)
        if self.args.in_turn:
            run.in_turn = self._first_sync_in_turn(backend, payload)
        return run

    def _first_sync_in_turn(self, backend: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The same first sync with the read-ahead off, into a store of its own."""
        with scratch_database(backend, self.args.postgres_url, f"{self.label}_turn") as url:
            store = migrated_store(url)
            try:
                with store.unit_of_work() as session:
                    connection_id = add_connection(session, *self.crm, {}).id
            finally:
                store.dispose()
            progress(f"{backend}: first sync with reads in turn (child process)")
            child = {
                **payload,
                "database_url": url,
                "connection_id": connection_id,
                "mode": "sync",
                "read_ahead": False,
            }
            return run_child(self.module, child, timeout=self.child_timeout)

    def _measure_incremental(
        self, run: BackendRun[CountsT], store: Store, payload: dict[str, Any]
    ) -> None:
        since = self._now()
        progress(f"{run.backend}: changing {self.args.change_share:.1%} of {self.changing}")
        payload = self.change(run, store, payload, since)
        progress(f"{run.backend}: incremental sync (child process)")
        self.admin.reset_meter()
        child = {**payload, "mode": "sync"}
        run.incremental = run_child(self.module, child, timeout=self.child_timeout)
        run.incremental_meter = self.admin.meter()
        run.stored = self.stored_edits(store, payload["connection_id"])
        self.print_backend(run)


# --------------------------------------------------------------------------- shared helpers


def live_ids(
    store: Store, connection_id: int, activities: ColumnElement[bool]
) -> tuple[list[str], dict[str, Any]]:
    """Stored, undeleted activity ids that match ``activities`` (sorted), and the
    undeleted opportunities' amounts by id."""
    with store.unit_of_work() as session:
        ids = session.scalars(
            select(Activity.crm_id).where(
                Activity.connection_id == connection_id, activities, Activity.deleted_at.is_(None)
            )
        ).all()
        opportunities = session.execute(
            select(Opportunity.crm_id, Opportunity.amount).where(
                Opportunity.connection_id == connection_id, Opportunity.deleted_at.is_(None)
            )
        ).all()
    return sorted(ids), {row.crm_id: row.amount for row in opportunities}


def sample(rng: random.Random, ids: list[str], share: float) -> list[str]:
    """``share`` of ``ids`` (rounded up), drawn by ``rng``."""
    return rng.sample(ids, min(len(ids), math.ceil(len(ids) * share)))


def stored_edits(
    store: Store, connection_id: int, activities: ColumnElement[bool], next_step: str
) -> tuple[int, int]:
    """How many activities match ``activities`` and opportunities carry ``next_step``:
    the edits an incremental sync brought into the store."""
    with store.unit_of_work() as session:
        edited = session.scalar(
            select(func.count()).where(Activity.connection_id == connection_id, activities)
        )
        opportunities = session.scalar(
            select(func.count()).where(
                Opportunity.connection_id == connection_id, Opportunity.next_step == next_step
            )
        )
    return int(edited or 0), int(opportunities or 0)


def records(child: dict[str, Any], key: str = "records_read") -> int:
    """A child's records over all streams."""
    return sum(int(stream[key]) for stream in child["streams"])


def meter_line(meter: dict[str, Any]) -> str:
    endpoints = ", ".join(f"{name} {count}" for name, count in meter["by_endpoint"].items())
    return f"meter by endpoint: {endpoints}; by status: {meter['by_status']}"


# --------------------------------------------------------------------------- main


def in_turn_row(run: BackendRun[Any]) -> tuple[object, ...]:
    """The first sync with reads in turn against the one with read-ahead (the service's)."""
    turn, ahead = run.in_turn["wall_seconds"], run.full["wall_seconds"]
    return (run.backend, "first sync s: reads in turn / read ahead", f"{turn:.1f}",
            f"{ahead:.1f}", ratio(turn, ahead))  # fmt: skip


def backends(args: argparse.Namespace) -> list[str]:
    return ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]


def main(
    bench: type[SyncBench[Any]],
    args: argparse.Namespace,
    sandbox_options: Sequence[str],
    header: str,
) -> int:
    """Start the sandbox, run every backend, print the summary (``header`` first)."""
    print(header)
    progress("starting the sandbox (its own process)")
    started = time.perf_counter()
    sandbox = SandboxProcess(sandbox_options)
    with sandbox as details:
        print(f"sandbox ready in {time.perf_counter() - started:.1f}s", flush=True)
        run = bench(args, details, sandbox)
        try:
            runs = [run.run_backend(backend) for backend in backends(args)]
        finally:
            run.close()
        rows = [row for backend_run in runs for row in run.summary_rows(backend_run)]
        rows += [in_turn_row(backend_run) for backend_run in runs if backend_run.in_turn]
    print("\n=== summary (measured / baseline, both from this run)")
    print(table(rows, ("backend", "figure", "measured", "baseline", "ratio")))
    progress("done")
    return 0
