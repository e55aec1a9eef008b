"""Client-side pacing: stay under HubSpot's rolling rate limits instead of bouncing off them.

HubSpot counts requests in rolling windows
(https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details#rate-limits):

* every call but CRM search: ``X-HubSpot-RateLimit-Max`` per
  ``X-HubSpot-RateLimit-Interval-Milliseconds`` per app (100 or 190 per 10 s by tier);
* CRM search: about 5 per second per account, exempt from the ten-second window (the
  OpenAPI specs mark search ``x-hubspot-rate-limit-exemptions: ["ten-secondly"]``), and
  its responses carry no rate-limit headers.

A :class:`RollingBudget` remembers when each of its calls *completed*. The server stamps
a call when it receives it, which is never later than when its answer arrives here, so a
call this side considers out of the window is out of the server's window too: pacing on
completion times cannot cause a 429. ``X-HubSpot-RateLimit-Remaining`` says how much of
the window the server has counted; when that is more than this process made (other
integrations share the app's budget), the difference is counted as calls made now.

Pure apart from a lock: the time source and the sleep are injected, so tests can run on
the sandbox's clock and advance it instead of sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from connectors.hubspot.config import PacingPolicy

#: Server stamps are whole milliseconds and a call exactly one window old still counts.
EDGE_SECONDS = 0.002
SEARCH_INTERVAL_SECONDS = 1.0


class Lane(StrEnum):
    """Which limit a call is counted against."""

    STANDARD = "standard"  # the ten-second window
    SEARCH = "search"  # the per-second search limit
    UNPACED = "unpaced"  # the OAuth token endpoint


class RollingBudget:
    """At most ``limit`` calls in any ``interval``-second span, by completion time."""

    def __init__(self, limit: int, interval: float) -> None:
        self.limit, self.interval = limit, interval
        self._done: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - self.interval
        while self._done and self._done[0] <= horizon:
            self._done.popleft()

    def in_window(self, now: float) -> int:
        self._trim(now)
        return len(self._done)

    def delay(self, now: float) -> float:
        """Seconds until one more call fits in the window (0: it fits now)."""
        self._trim(now)
        excess = len(self._done) - self.limit
        if excess < 0:
            return 0.0
        # The (excess + 1)-th oldest call must leave the window first.
        return self._done[excess] + self.interval - now + EDGE_SECONDS

    def record(self, now: float, count: int = 1) -> None:
        self._done.extend([now] * count)

    def observe(
        self, limit: int | None, interval: float | None, remaining: int | None, now: float
    ) -> None:
        """Adopt the server's figures from one answer's headers."""
        if limit is not None and limit > 0:
            self.limit = limit
        if interval is not None and interval > 0:
            self.interval = interval
        if remaining is None:
            return
        unseen = (self.limit - remaining) - self.in_window(now)
        if unseen > 0:
            self.record(now, unseen)


@dataclass(frozen=True)
class RateHeaders:
    """The ``X-HubSpot-RateLimit-*`` figures of one response (None where absent)."""

    limit: int | None = None
    interval_seconds: float | None = None
    remaining: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateHeaders:
        lowered = {key.lower(): value for key, value in headers.items()}

        def number(name: str) -> int | None:
            raw = lowered.get(f"x-hubspot-ratelimit-{name}")
            try:
                return None if raw is None else int(raw)
            except ValueError:
                return None

        interval = number("interval-milliseconds")
        return cls(
            limit=number("max"),
            interval_seconds=None if interval is None else interval / 1000,
            remaining=number("remaining"),
            daily=number("daily"),
            daily_remaining=number("daily-remaining"),
        )


class Pacer:
    """Waits before each call until it fits its lane's window; counts what it waited."""

    def __init__(
        self, policy: PacingPolicy, timer: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._timer, self._sleep = timer, sleep
        self._lanes = {
            Lane.STANDARD: RollingBudget(policy.ten_second_budget, policy.interval_seconds),
            Lane.SEARCH: RollingBudget(policy.searches_per_second, SEARCH_INTERVAL_SECONDS),
        }
        self._lock = threading.Lock()
        self.waits = 0
        self.waited_seconds = 0.0

    def before(self, lane: Lane) -> None:
        budget = self._lanes.get(lane)
        if budget is None:
            return
        while True:
            with self._lock:
                delay = budget.delay(self._timer())
            if delay <= 0:
                return
            self.wait(delay)

    def after(self, lane: Lane, headers: RateHeaders | None) -> None:
        budget = self._lanes.get(lane)
        if budget is None:
            return
        with self._lock:
            now = self._timer()
            budget.record(now)
            if headers is not None and lane is Lane.STANDARD:
                budget.observe(headers.limit, headers.interval_seconds, headers.remaining, now)

    def tighten(self, lane: Lane) -> None:
        """A 429 from a limit no header announces (search's): one call fewer per window."""
        budget = self._lanes.get(lane)
        if budget is not None:
            with self._lock:
                budget.limit = max(1, budget.limit - 1)

    def wait(self, seconds: float) -> None:
        """Sleep for the rate limits (pacing or a 429), and count it."""
        if seconds <= 0:
            return
        with self._lock:
            self.waits += 1
            self.waited_seconds += seconds
        self._sleep(seconds)

    def limit(self, lane: Lane) -> tuple[int, float] | None:
        """The lane's current (calls, seconds) budget."""
        budget = self._lanes.get(lane)
        return None if budget is None else (budget.limit, budget.interval)
