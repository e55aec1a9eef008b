"""The fake HubSpot's rate-limit budgets, driven by explicit epoch millis."""

from __future__ import annotations

from sandbox.hubspot.ratelimit import (
    DAY_MS,
    HubSpotLimits,
    RateLimiter,
    RollingWindow,
)

NOON = 19_000 * DAY_MS + DAY_MS // 2


def test_a_rolling_window_frees_each_slot_ten_seconds_after_its_use():
    window = RollingWindow(2, 10_000)
    assert window.try_acquire(0)
    assert window.try_acquire(4_000)
    assert not window.try_acquire(9_999)
    assert window.retry_after_ms(9_999) == 1
    assert window.try_acquire(10_000)  # the first call has left the window
    assert not window.try_acquire(13_999)
    assert window.remaining(14_000) == 1


def test_the_ten_second_budget_is_per_app_with_headers_counting_down():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=2))
    first = limiter.check(1, search=False, daily=100, now_ms=NOON)
    assert first.allowed
    assert first.headers["X-HubSpot-RateLimit-Max"] == "2"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "1"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "99"
    assert limiter.check(1, search=False, daily=100, now_ms=NOON).allowed
    refused = limiter.check(1, search=False, daily=100, now_ms=NOON + 1)
    assert refused.policy == "TEN_SECONDLY_ROLLING"
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers
    assert limiter.check(2, search=False, daily=100, now_ms=NOON + 1).allowed  # another app


def test_the_secondly_headers_count_the_last_second():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=100))
    for offset in (0, 600, 1_500):
        verdict = limiter.check(1, search=False, daily=None, now_ms=NOON + offset)
    assert verdict.headers["X-HubSpot-RateLimit-Secondly"] == "10"
    assert verdict.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "8"
    assert "X-HubSpot-RateLimit-Daily" not in verdict.headers  # OAuth: no daily limit


def test_search_is_limited_per_second_exempt_from_the_ten_second_budget_and_headerless():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=1, searches_per_second=2))
    assert limiter.check(1, search=True, daily=100, now_ms=NOON).headers == {}
    assert limiter.check(1, search=True, daily=100, now_ms=NOON).allowed
    assert limiter.check(1, search=True, daily=100, now_ms=NOON + 999).policy == "SECONDLY"
    assert limiter.check(1, search=False, daily=100, now_ms=NOON).allowed
    assert limiter.check(1, search=True, daily=100, now_ms=NOON + 1_000).allowed


def test_the_daily_budget_counts_every_call_and_resets_at_utc_midnight():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=100))
    assert limiter.check(1, search=False, daily=2, now_ms=NOON).allowed
    assert limiter.check(1, search=True, daily=2, now_ms=NOON).allowed
    refused = limiter.check(1, search=False, daily=2, now_ms=NOON + 1)
    assert refused.policy == "DAILY"
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    next_day = NOON + DAY_MS // 2
    assert limiter.check(1, search=False, daily=2, now_ms=next_day).allowed
    assert limiter.check(1, search=False, daily=None, now_ms=NOON + 2).allowed  # OAuth


def test_retry_after_says_when_the_refused_call_would_pass():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=1, send_retry_after=True))
    limiter.check(1, search=False, daily=None, now_ms=NOON)
    refused = limiter.check(1, search=False, daily=None, now_ms=NOON + 2_500)
    assert refused.headers["Retry-After"] == "8"
    daily = RateLimiter(HubSpotLimits(send_retry_after=True))
    daily.check(1, search=False, daily=1, now_ms=NOON)
    assert daily.check(1, search=False, daily=1, now_ms=NOON).headers["Retry-After"] == "43200"


def test_reset_forgets_every_window():
    limiter = RateLimiter(HubSpotLimits(ten_second_budget=1, searches_per_second=1))
    limiter.check(1, search=False, daily=1, now_ms=NOON)
    limiter.check(1, search=True, daily=None, now_ms=NOON)
    limiter.reset()
    assert limiter.check(1, search=False, daily=1, now_ms=NOON).allowed
    assert limiter.check(1, search=True, daily=None, now_ms=NOON).allowed
