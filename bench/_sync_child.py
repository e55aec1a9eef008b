"""The measured side of a sync benchmark: one sync (or none) in a child process.

The driver runs ``python -m <benchmark> --child`` with a JSON payload on stdin (the
store's URL, the connection, the CRM's credentials, ``mode``: ``sync`` or ``idle``), so the
sync's memory and CPU are its own; the child answers with one JSON line: wall and CPU
time, time spent in store transactions, the sync report and its peak RSS. An ``idle``
child builds the same store and connector and stops there: the memory baseline.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from bench._common import peak_rss_bytes, progress, ru_maxrss_bytes, settings_for
from connectors.base import Connector
from service.store import Store, make_engine
from service.sync.pipeline import SyncReport, sync_connection


class TimedStore(Store):
    """The store, timing every unit of work (the sync's write transactions)."""

    write_seconds = 0.0

    @contextmanager
    def unit_of_work(self, *, writes: bool = False) -> Iterator[Session]:
        started = time.perf_counter()
        try:
            with super().unit_of_work(writes=writes) as session:
                yield session
        finally:
            self.write_seconds += time.perf_counter() - started


def child_main(make_connector: Callable[[dict[str, Any]], Connector], *, report_every: int) -> None:
    """Read the payload, sync (or only get ready), print the answer as one JSON line."""
    payload = json.loads(sys.stdin.read())
    store = TimedStore(make_engine(settings_for(payload["database_url"])))
    connector = make_connector(payload)
    try:
        if payload["mode"] == "idle":
            answer = memory()
        else:
            answer = _child_sync(store, connector, payload, report_every)
    finally:
        connector.close()
        store.dispose()
    print(json.dumps(answer))


def _child_sync(
    store: TimedStore, connector: Connector, payload: dict[str, Any], report_every: int
) -> dict[str, Any]:
    """One sync_connection run, timed from its call to its return."""
    reported: dict[str, int] = {}

    def on_progress(stream: str, records: int) -> None:
        if records - reported.get(stream, 0) >= report_every:
            reported[stream] = records
            progress(f"    {stream}: {records:,} records read")

    started, cpu = time.perf_counter(), time.process_time()
    report = sync_connection(
        store,
        payload["connection_id"],
        connector,
        batch_size=payload["batch_size"],
        progress=on_progress,
        read_ahead=payload.get("read_ahead", True),
    )
    times = {
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "write_seconds": store.write_seconds,
    }
    return {**times, **report_json(report), **memory()}


def memory() -> dict[str, int]:
    return {"max_rss_bytes": peak_rss_bytes(), "ru_maxrss_bytes": ru_maxrss_bytes()}


def report_json(report: SyncReport) -> dict[str, Any]:
    usage = report.usage
    return {
        "status": report.status.value,
        "streams": [
            {
                "stream": stream.stream,
                "status": stream.status.value,
                "records_read": stream.counts.records_read,
                "records_upserted": stream.counts.records_upserted,
                "records_deleted": stream.counts.records_deleted,
                "api_calls": stream.counts.api_calls,
                "error": stream.error,
            }
            for stream in report.streams
        ],
        "usage": {
            "calls": usage.calls if usage else 0,
            "by_endpoint": usage.by_endpoint if usage else {},
            "retries": usage.retries if usage else 0,
            "waits": usage.rate_limit_waits if usage else 0,
            "waited_seconds": usage.rate_limit_wait_seconds if usage else 0.0,
        },
    }
