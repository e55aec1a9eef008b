"""HubSpot's rate limits as rolling windows over the sandbox clock.

Three budgets, as documented for private and public apps
(https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details#rate-limits):

* a rolling ten-second budget per app (``TEN_SECONDLY_ROLLING``), which CRM search is
  exempt from (the OpenAPI specs mark search ``x-hubspot-rate-limit-exemptions:
  ["ten-secondly"]``);
* a per-second budget for CRM search per account (``SECONDLY``);
* a daily budget per account for private apps (``DAILY``); OAuth apps have none, and
  their responses carry no ``-Daily`` headers (developer changelog, "Rate limit headers
  will now appear for OAuth authenticated calls").

Pure apart from a lock: callers pass the clock's epoch millis, so tests advance time
instead of sleeping.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

TEN_SECONDS_MS = 10_000
SECOND_MS = 1_000
DAY_MS = 86_400_000


@dataclass
class HubSpotLimits:
    ten_second_budget: int = 100
    searches_per_second: int = 5
    daily_budget: int = 250_000
    send_retry_after: bool = False
    search_index_lag_seconds: float = 0.0


class RollingWindow:
    """At most ``limit`` events in any ``window_ms``-long interval."""

    def __init__(self, limit: int, window_ms: int) -> None:
        self.limit, self.window_ms = limit, window_ms
        self._events: deque[int] = deque()

    def _trim(self, now_ms: int) -> None:
        horizon = now_ms - self.window_ms
        while self._events and self._events[0] <= horizon:
            self._events.popleft()

    def remaining(self, now_ms: int) -> int:
        self._trim(now_ms)
        return max(0, self.limit - len(self._events))

    def try_acquire(self, now_ms: int) -> bool:
        if self.remaining(now_ms) == 0:
            return False
        self._events.append(now_ms)
        return True

    def used_within(self, now_ms: int, span_ms: int) -> int:
        """Events in the last ``span_ms`` (for the per-second headers)."""
        horizon, count = now_ms - span_ms, 0
        for moment in reversed(self._events):
            if moment <= horizon:
                break
            count += 1
        return count

    def retry_after_ms(self, now_ms: int) -> int:
        self._trim(now_ms)
        if len(self._events) < self.limit:
            return 0
        return self._events[0] + self.window_ms - now_ms


@dataclass
class DailyCounter:
    """Calls per UTC day of the sandbox clock."""

    day: int = -1
    used: int = 0

    def remaining(self, budget: int, now_ms: int) -> int:
        if now_ms // DAY_MS != self.day:
            self.day, self.used = now_ms // DAY_MS, 0
        return max(0, budget - self.used)


@dataclass(frozen=True)
class Verdict:
    """Whether a call may proceed; otherwise which policy refused it."""

    policy: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.policy is None


class RateLimiter:
    def __init__(self, limits: HubSpotLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._apps: dict[int, RollingWindow] = {}
            self._search = RollingWindow(self.limits.searches_per_second, SECOND_MS)
            self._daily = DailyCounter()

    def check(self, app_id: int, *, search: bool, daily: int | None, now_ms: int) -> Verdict:
        """Count one call; ``daily`` is the budget (None: no daily limit, as for OAuth)."""
        with self._lock:
            if daily is not None and self._daily.remaining(daily, now_ms) == 0:
                return Verdict("DAILY", self._daily_headers(daily, now_ms))
            if search:
                return self._check_search(daily, now_ms)
            window = self._apps.setdefault(
                app_id, RollingWindow(self.limits.ten_second_budget, TEN_SECONDS_MS)
            )
            if not window.try_acquire(now_ms):
                headers = self._window_headers(window, daily, now_ms)
                headers.update(self._retry_after(window, now_ms))
                return Verdict("TEN_SECONDLY_ROLLING", headers)
            self._count_daily(daily)
            return Verdict(None, self._window_headers(window, daily, now_ms))

    def _count_daily(self, daily: int | None) -> None:
        if daily is not None:
            self._daily.used += 1

    def _check_search(self, daily: int | None, now_ms: int) -> Verdict:
        # https://community.hubspot.com/t5/Developer-Announcements/Rate-limit-headers-will-now-
        # appear-for-OAuth-authenticated-calls/m-p/399520: search responses carry no
        # X-HubSpot-RateLimit-* headers, only the correlation id.
        if not self._search.try_acquire(now_ms):
            return Verdict("SECONDLY", self._retry_after(self._search, now_ms))
        self._count_daily(daily)
        return Verdict(None)

    def _window_headers(
        self, window: RollingWindow, daily: int | None, now_ms: int
    ) -> dict[str, str]:
        budget = window.limit
        secondly = math.ceil(budget / 10)
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(TEN_SECONDS_MS),
            "X-HubSpot-RateLimit-Max": str(budget),
            "X-HubSpot-RateLimit-Remaining": str(window.remaining(now_ms)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(
                max(0, secondly - window.used_within(now_ms, SECOND_MS))
            ),
        }
        if daily is not None:
            headers.update(self._daily_headers(daily, now_ms))
        return headers

    def _daily_headers(self, daily: int, now_ms: int) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Daily": str(daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self._daily.remaining(daily, now_ms)),
        }
        if self.limits.send_retry_after and self._daily.remaining(daily, now_ms) == 0:
            headers["Retry-After"] = str(math.ceil((DAY_MS - now_ms % DAY_MS) / 1000))
        return headers

    def _retry_after(self, window: RollingWindow, now_ms: int) -> dict[str, str]:
        wait_ms = window.retry_after_ms(now_ms)
        if not (self.limits.send_retry_after and wait_ms > 0):
            return {}
        return {"Retry-After": str(max(1, math.ceil(wait_ms / 1000)))}
