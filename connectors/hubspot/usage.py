"""API usage as this connector sees it, and the daily-budget rule that stops a run early.

Private apps share the account's daily allowance and every rate-limited answer carries
``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining``
(https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details). Searches carry
no such headers, so between two observations the calls made since are added to the last
known usage. The rule, checked before every call:

* a run (one connector instance) makes at most ``floor(budget_share * daily)`` calls,
  every attempt counted (retries too: HubSpot counts them);
* and never one that would take the account past its allowance.

Before the first header the allowance is unknown and calls are allowed; OAuth apps have
no daily allowance (their answers carry no daily headers) and only a 429 ``DAILY`` stops
them. Token requests are not API calls. Write-back calls (``budgeted`` False) obey only
the second rule: coaching tasks matter more than a sync's share.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

from connectors.base import ApiUsage
from connectors.hubspot.errors import ApiLimitReached

OAUTH_ENDPOINT = "POST /oauth/v1/token"


class UsageTracker:
    def __init__(self, budget_share: float) -> None:
        self.budget_share = budget_share
        self._calls: Counter[str] = Counter()
        self._api_calls = 0
        self._retries = 0
        self._daily: int | None = None
        self._used_when_seen = 0
        self._calls_when_seen = 0
        self._lock = threading.Lock()

    def observe(self, daily: int | None, daily_remaining: int | None) -> None:
        """Record the account's daily figures from one answer's headers."""
        if daily is None or daily_remaining is None:
            return
        with self._lock:
            self._daily = daily
            self._used_when_seen = daily - daily_remaining
            self._calls_when_seen = self._api_calls

    def daily_used(self) -> int | None:
        """The account's usage today, as last seen plus this run's calls since."""
        if self._daily is None:
            return None
        return self._used_when_seen + (self._api_calls - self._calls_when_seen)

    def allowed_calls(self) -> int | None:
        """This run's share in calls, once the allowance is known."""
        return None if self._daily is None else math.floor(self.budget_share * self._daily)

    def before_call(self, endpoint: str, *, budgeted: bool) -> None:
        """Count the call about to be made, or raise ApiLimitReached instead."""
        with self._lock:
            if endpoint != OAUTH_ENDPOINT:
                self._check(budgeted)
                self._api_calls += 1
            self._calls[endpoint] += 1

    def _check(self, budgeted: bool) -> None:
        used, daily = self.daily_used(), self._daily
        if used is not None and daily is not None and used + 1 > daily:
            raise ApiLimitReached(f"the account's daily API allowance is used up ({used}/{daily})")
        allowed = self.allowed_calls()
        if budgeted and allowed is not None and self._api_calls + 1 > allowed:
            raise ApiLimitReached(
                f"this run's API budget is spent: {self._api_calls} calls of {allowed}"
                f" ({self.budget_share:.0%} of the daily {daily})"
            )

    def retried(self) -> None:
        with self._lock:
            self._retries += 1

    def snapshot(self, *, waits: int = 0, waited_seconds: float = 0.0) -> ApiUsage:
        with self._lock:
            return ApiUsage(
                calls=sum(self._calls.values()),
                by_endpoint=dict(sorted(self._calls.items())),
                daily_used=self.daily_used(),
                daily_limit=self._daily,
                rate_limit_waits=waits,
                rate_limit_wait_seconds=waited_seconds,
                retries=self._retries,
            )

    @property
    def api_calls(self) -> int:
        return self._api_calls
