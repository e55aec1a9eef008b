"""Benchmark: API latency of the findings list and the scorecards on the 200-rep org,
against the time of the SQL each request runs.

Run from the project root::

    .venv/bin/python -m bench.api                          # SQLite and PostgreSQL
    .venv/bin/python -m bench.api --backend sqlite --activities 100000 --requests 30

The benchmark org (200 reps under 20 managers, :mod:`bench.org_records`) is loaded into
a fresh, migrated store the way a sync writes it, with the default pack, and evaluated
once so there are findings. The app runs in process (Starlette's test client: no
network, no server), and each endpoint is requested ``--requests`` times. For every
request the SQL it ran is timed at the driver (SQLAlchemy's cursor events); printed per
endpoint: p50 and p99 of the request's wall time, the median SQL time, and their ratio
(what the API adds to the database's work: validation, the rules core for scorecards,
serialisation). It asserts nothing; it prints figures.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select

from bench._common import DEFAULT_POSTGRES_URL, migrated_store, progress, ratio, scratch_database
from bench._evaluate_load import load_whole_org, settle
from bench.org_records import BenchOrg, OrgShape
from service.api.app import create_app
from service.api.keys import create_key
from service.evaluation.run import evaluate_connection
from service.settings import Settings
from service.store import Store
from service.store.tables import Rep

with warnings.catch_warnings():  # Starlette prefers httpx2 for its test client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Figure:
    backend: str
    endpoint: str
    requests: int
    p50_ms: float
    p99_ms: float
    sql_ms: float

    def row(self) -> str:
        return (
            f"| {self.backend} | {self.endpoint} | {self.requests} | {self.p50_ms:.1f} | "
            f"{self.p99_ms:.1f} | {self.sql_ms:.1f} | {ratio(self.p50_ms, self.sql_ms)} |"
        )


class SqlClock:
    """Seconds spent in the driver's execute calls, on one engine."""

    def __init__(self, store: Store) -> None:
        self.spent = 0.0
        self._started: list[float] = []
        event.listen(store.engine, "before_cursor_execute", self._before)
        event.listen(store.engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.spent += time.perf_counter() - self._started.pop()

    @contextmanager
    def measuring(self) -> Iterator[Callable[[], float]]:
        before = self.spent
        yield lambda: self.spent - before


def run(backend: str, postgres_url: str, activities: int, requests: int) -> list[Figure]:
    with scratch_database(backend, postgres_url, "bench_api") as url:
        store = migrated_store(url)
        try:
            org = BenchOrg(OrgShape())
            progress(f"{backend}: loading 200 reps, {activities} activities")
            connection_id = load_whole_org(store, org, activities)
            settle(store)
            evaluate_connection(store, connection_id, as_of=org.shape.end)
            return _measure(store, backend, url, org, requests)
        finally:
            store.dispose()


def _measure(store: Store, backend: str, url: str, org: BenchOrg, requests: int) -> list[Figure]:
    with store.unit_of_work() as session:
        token = create_key(session, "bench", ["admin"], actor="bench").token
        rep = session.scalars(select(Rep).where(Rep.manager_crm_id.is_not(None))).first()
        assert rep is not None  # noqa: S101 - the org has reps
        rep_id, team = rep.crm_id, rep.team or ""
    app = create_app(store, Settings(database_url=url, _env_file=None))
    clock = SqlClock(store)
    headers = {"Authorization": f"Bearer {token}"}
    as_of = org.shape.end.isoformat()
    endpoints = {
        "findings list (50)": ("/v1/findings", {"limit": 50}),
        "rep scorecard": (f"/v1/reps/{rep_id}/scorecard", {"as_of": as_of}),
        "team scorecard": (f"/v1/teams/{team}/scorecard", {"as_of": as_of}),
    }
    figures = []
    with TestClient(app) as client:
        for name, (path, params) in endpoints.items():
            walls, sqls = [], []
            for _ in range(requests):
                with clock.measuring() as sql:
                    started = time.perf_counter()
                    answer = client.get(path, params=params, headers=headers)
                    walls.append((time.perf_counter() - started) * 1000)
                sqls.append(sql() * 1000)
                answer.raise_for_status()
            progress(f"{backend}: {name} done")
            figures.append(Figure(backend, name, requests, _pct(walls, 50), _pct(walls, 99),
                                  statistics.median(sqls)))  # fmt: skip
    return figures


def _pct(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures = [
        f
        for backend in backends
        for f in run(backend, args.postgres_url, args.activities, args.requests)
    ]
    print("| backend | endpoint | requests | p50 ms | p99 ms | SQL ms (median) | p50 / SQL |")
    print("|---|---|---|---|---|---|---|")
    for figure in figures:
        print(figure.row())


if __name__ == "__main__":
    main()
