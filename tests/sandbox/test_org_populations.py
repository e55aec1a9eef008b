"""The seeded org's populations: steady, drifting, noisy, unlucky and ramping reps.

Checked on an 18-month org of 24 reps, the shape the backtest benchmark replays, against
the model's own records (activities, deals, quotas): a backtest's answer key is only worth
what these properties are.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sandbox.org import MISS_THRESHOLD, OrgSpec, RepTruth, SalesOrg, generate_org

SPEC = OrgSpec(seed=11, reps=24, managers=2, months=18)


@pytest.fixture(scope="module")
def org() -> SalesOrg:
    return generate_org(SPEC)


def _of(org: SalesOrg, persona: str) -> list[RepTruth]:
    return [t for t in org.truth if t.persona == persona and org.user(t.user_id).is_active]


def _weekly_calls(org: SalesOrg, user_id: str) -> dict[date, int]:
    """Calls per ISO week (keyed by its Monday) over the rep's whole weeks of history."""
    zone = ZoneInfo(org.user(user_id).time_zone)
    weeks: Counter[date] = Counter()
    for activity in org.activities_of(user_id):
        if activity.kind == "call":
            day = activity.occurred_at.astimezone(zone).date()
            weeks[day - timedelta(days=day.weekday())] += 1
    first = max(org.history_start, org.user(user_id).start_date) + timedelta(days=7)
    monday = first - timedelta(days=first.weekday())
    last = org.spec.as_of - timedelta(days=7)
    result = {}
    while monday <= last:
        result[monday] = weeks[monday]
        monday += timedelta(weeks=1)
    return result


def _daily_calls(org: SalesOrg, user_id: str) -> list[int]:
    """Calls on each weekday the rep worked (logged anything), in order."""
    zone = ZoneInfo(org.user(user_id).time_zone)
    days: Counter[date] = Counter()
    for activity in org.activities_of(user_id):
        day = activity.occurred_at.astimezone(zone).date()
        if day.weekday() < 5:
            days[day] += activity.kind == "call"
    return [days[day] for day in sorted(days)]


def _steady_per_day_worked(daily: list[int]) -> bool:
    """No two months (40 days worked) average below 75% of the rep's whole-history mean
    (a drift settles at 30-50%)."""
    baseline = statistics.fmean(daily)
    return all(statistics.fmean(daily[i : i + 40]) > 0.75 * baseline
               for i in range(len(daily) - 39))  # fmt: skip


def _complete_quarters(org: SalesOrg, truth: RepTruth) -> list[tuple[date, Decimal]]:
    """Attainment of the quarters wholly inside the history and the rep's employment."""
    start = org.user(truth.user_id).start_date
    return [
        (quarter, value)
        for quarter, value in sorted(truth.attainment_by_quarter.items())
        if quarter >= org.history_start and quarter >= start
        and quarter + timedelta(days=92) <= org.spec.as_of
    ]  # fmt: skip


def test_personas_follow_the_spec_shares(org: SalesOrg):
    counts = Counter(t.persona for t in org.truth if org.user(t.user_id).is_active)
    assert counts["drifting"] == 6
    assert counts["noisy"] == round(24 * SPEC.noisy_share)
    assert counts["unlucky"] == round(24 * SPEC.unlucky_share)
    assert counts["ramping"] == 24 // 12
    assert sum(counts.values()) == 24
    assert all(t.drifts == (t.persona == "drifting") for t in org.truth)


def test_shares_beyond_the_whole_are_refused():
    with pytest.raises(ValueError, match="add up"):
        OrgSpec(drift_share=0.5, noisy_share=0.4, unlucky_share=0.2)
    with pytest.raises(ValueError, match="noisy_share"):
        OrgSpec(noisy_share=1.5)


def test_drifting_reps_stay_low_until_the_end(org: SalesOrg):
    for truth in _of(org, "drifting"):
        assert truth.drift_start is not None
        if "calls" not in truth.drifting_indicators:
            continue
        weeks = _weekly_calls(org, truth.user_id)
        before = [n for week, n in weeks.items() if week < truth.drift_start]
        settled = truth.drift_start + timedelta(weeks=5)
        after = [n for week, n in weeks.items() if week >= settled]
        baseline = statistics.median(before)
        assert len(after) >= 2
        assert statistics.median(after) < 0.6 * baseline, truth.user_id
        assert statistics.median(after[-8:]) < 0.6 * baseline, truth.user_id


def test_noisy_reps_have_bad_days_and_weeks_but_no_sustained_decline(org: SalesOrg):
    noisy = _of(org, "noisy")
    assert noisy
    for truth in noisy:
        weeks = list(_weekly_calls(org, truth.user_id).values())
        assert min(weeks) < 0.5 * statistics.median(weeks), "a week of leave shows"
        daily = _daily_calls(org, truth.user_id)
        assert min(daily) < 0.5 * statistics.fmean(daily), "bad days show"
        assert _steady_per_day_worked(daily), truth.user_id


def test_steady_reps_usually_make_quota_and_sometimes_miss(org: SalesOrg):
    steady = [a for t in _of(org, "steady") for _, a in _complete_quarters(org, t)]
    made = sum(a >= MISS_THRESHOLD for a in steady) / len(steady)
    assert 0.85 <= made < 1.0


def test_unlucky_reps_work_as_hard_and_miss_more(org: SalesOrg):
    unlucky = _of(org, "unlucky")
    assert unlucky
    for truth in unlucky:  # within the 9.5-18.5 calls a day every settled rep makes
        weeks = list(_weekly_calls(org, truth.user_id).values())
        assert 5 * 9.5 * 0.85 < statistics.median(weeks) < 5 * 18.5 * 1.05
        assert _steady_per_day_worked(_daily_calls(org, truth.user_id)), truth.user_id
    quarters = [a for t in unlucky for _, a in _complete_quarters(org, t)]
    missed = sum(a < MISS_THRESHOLD for a in quarters) / len(quarters)
    assert missed >= 0.4


def test_drifting_reps_miss_after_the_drift_and_not_before(org: SalesOrg):
    before: list[bool] = []
    after: list[bool] = []
    for truth in _of(org, "drifting"):
        assert truth.drift_start is not None
        for quarter, value in _complete_quarters(org, truth):
            if quarter + timedelta(days=92) <= truth.drift_start:
                before.append(value < MISS_THRESHOLD)
            elif quarter >= truth.drift_start:
                after.append(value < MISS_THRESHOLD)
    assert before
    assert after
    assert sum(after) / len(after) >= 0.75
    assert sum(before) / len(before) <= 0.25


def test_new_hires_ramp_up_their_activity(org: SalesOrg):
    for truth in _of(org, "ramping"):
        weeks = list(_weekly_calls(org, truth.user_id).values())
        if len(weeks) < 16:
            continue
        assert statistics.fmean(weeks[:3]) < 0.75 * statistics.fmean(weeks[10:16])


def test_stage_durations_are_heavy_tailed(org: SalesOrg):
    durations = []
    for deal in org.deals:
        entered = [change.at for change in deal.history if change.stage_key is not None]
        durations += [(b - a).total_seconds() / 86_400 for a, b in itertools.pairwise(entered)]
    durations.sort()
    median = durations[len(durations) // 2]
    p99 = durations[int(len(durations) * 0.99)]
    assert p99 > 8 * median


def test_most_activity_is_not_logged_against_a_deal(org: SalesOrg):
    linked = sum(1 for a in org.activities if a.deal_id is not None)
    assert 0.2 < linked / len(org.activities) < 0.5
