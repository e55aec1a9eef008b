"""API usage as this connector sees it, and the budget rule that stops a run early.

Salesforce reports the org's rolling 24-hour usage on every REST response in
``Sforce-Limit-Info: api-usage=N/M`` (https://developer.salesforce.com/docs/atlas.en-us.
api_rest.meta/api_rest/headers_api_usage.htm). The budget rule, checked before every
call:

* a run (one connector instance) makes at most ``floor(budget_share * M)`` REST calls,
  counting every attempt (retries too: Salesforce counts them);
* and never one that would take the org past its allocation: ``N + 1 > M`` stops.

Before the first response M is unknown, so the first call is always allowed. OAuth token
requests are not REST API calls and count toward neither. Write-back calls (``budgeted``
False) obey only the second rule: coaching tasks matter more than a sync's share.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

from simple_salesforce.api import Salesforce
from simple_salesforce.util import Usage

from connectors.base import ApiUsage
from connectors.salesforce.errors import ApiLimitReached

LOGIN_ENDPOINT = "oauth token"


class UsageTracker:
    def __init__(self, budget_share: float) -> None:
        self.budget_share = budget_share
        self._calls: Counter[str] = Counter()
        self._api_calls = 0
        self._retries = 0
        self._used: int | None = None
        self._limit: int | None = None
        self._lock = threading.Lock()

    def observe(self, limit_info: str) -> None:
        """Record the org's counters from one response's ``Sforce-Limit-Info``."""
        usage = Salesforce.parse_api_usage(limit_info).get("api-usage")
        if isinstance(usage, Usage):
            with self._lock:
                self._used, self._limit = usage.used, usage.total

    def allowed_calls(self) -> int | None:
        """This run's share in calls, once the allocation is known."""
        if self._limit is None:
            return None
        return math.floor(self.budget_share * self._limit)

    def before_call(self, endpoint: str, *, budgeted: bool) -> None:
        """Count the call about to be made, or raise ApiLimitReached instead."""
        with self._lock:
            if endpoint != LOGIN_ENDPOINT:
                self._check(budgeted)
                self._api_calls += 1
            self._calls[endpoint] += 1

    def _check(self, budgeted: bool) -> None:
        used, limit = self._used, self._limit
        if used is not None and limit is not None and used + 1 > limit:
            raise ApiLimitReached(f"the org's daily API allocation is used up ({used}/{limit})")
        allowed = self.allowed_calls()
        if budgeted and allowed is not None and self._api_calls + 1 > allowed:
            raise ApiLimitReached(
                f"this run's API budget is spent: {self._api_calls} calls of {allowed}"
                f" ({self.budget_share:.0%} of the daily {limit})"
            )

    def retried(self) -> None:
        with self._lock:
            self._retries += 1

    def snapshot(self) -> ApiUsage:
        with self._lock:
            return ApiUsage(
                calls=sum(self._calls.values()),
                by_endpoint=dict(sorted(self._calls.items())),
                daily_used=self._used,
                daily_limit=self._limit,
                retries=self._retries,
            )

    @property
    def api_calls(self) -> int:
        return self._api_calls
