"""Counts calls per endpoint: the benchmark's API-call meter.

Endpoints are counted by route name (``"GET query"``), not raw path, so that ten
thousand record ids still add up to one line a benchmark can compare with the minimum.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Meter:
    def __init__(self) -> None:
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._lock = threading.Lock()

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._statuses[status] += 1

    def calls(self, endpoint: str | None = None) -> int:
        with self._lock:
            if endpoint is None:
                return sum(self._calls.values())
            return self._calls[endpoint]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._calls.values()),
                "by_endpoint": dict(sorted(self._calls.items())),
                "by_status": {str(k): v for k, v in sorted(self._statuses.items())},
            }

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
