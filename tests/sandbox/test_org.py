"""The seeded sales org: deterministic, internally consistent, realistic, and honest truth.

Most properties are checked on small orgs (few months, low deal_scale). The default org is
generated once per module for the properties that need full volumes: daily ranges, the
weekday pattern, drift against each rep's own baseline, and attainment.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sandbox.org import (
    INDICATORS,
    MISS_THRESHOLD,
    STAGES,
    Activity,
    Deal,
    OrgSpec,
    SalesOrg,
    User,
    generate_org,
)

SMALL = OrgSpec(months=4, deal_scale=0.15)


@pytest.fixture(scope="module")
def small_org() -> SalesOrg:
    return generate_org(SMALL)


@pytest.fixture(scope="module")
def org() -> SalesOrg:
    return generate_org(OrgSpec())


def _replay(deal: Deal) -> tuple[str | None, Decimal | None, date | None, int | None]:
    stage = amount = close = probability = None
    for change in deal.history:
        stage = change.stage_key if change.stage_key is not None else stage
        amount = change.amount if change.amount is not None else amount
        close = change.close_date if change.close_date is not None else close
        probability = change.probability if change.probability is not None else probability
    return stage, amount, close, probability


def _local_days(org: SalesOrg, user_id: str, kind: str) -> Counter[date]:
    zone = ZoneInfo(org.user(user_id).time_zone)
    return Counter(
        a.occurred_at.astimezone(zone).date()
        for a in org.activities_of(user_id)
        if a.kind == kind and (kind != "meeting" or a.outcome == "Held")
    )


def _worked_days(org: SalesOrg, user_id: str) -> set[date]:
    zone = ZoneInfo(org.user(user_id).time_zone)
    days = {a.occurred_at.astimezone(zone).date() for a in org.activities_of(user_id)}
    return {day for day in days if day.weekday() < 5}


# ---------------------------------------------------------------- determinism


def test_the_same_spec_generates_an_equal_org(small_org: SalesOrg):
    again = generate_org(SMALL)
    assert again == small_org
    assert again.summary() == small_org.summary()


def test_a_different_seed_generates_a_different_org(small_org: SalesOrg):
    other = generate_org(OrgSpec(seed=8, months=4, deal_scale=0.15))
    assert other.users != small_org.users
    assert other.deals != small_org.deals
    assert other.activities != small_org.activities


_DIGEST = """
import hashlib
from sandbox.org import OrgSpec, generate_org
org = generate_org(OrgSpec(months=3, deal_scale=0.05))
records = (org.users, org.quotas, org.deals, org.activities, org.truth)
print(hashlib.sha256(repr(records).encode()).hexdigest())
"""


def test_generation_does_not_depend_on_the_hash_seed():
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1
    assert len(digests.pop().strip()) == 64


def test_a_spec_too_short_for_a_drift_baseline_is_rejected():
    with pytest.raises(ValueError, match="months"):
        OrgSpec(months=2)


# ---------------------------------------------------------------- people


def test_every_rep_reports_to_a_manager_who_reports_to_the_vp(small_org: SalesOrg):
    vp = small_org.vp
    assert vp.manager_id is None
    assert vp.team_id is None
    assert len(small_org.managers) == SMALL.managers
    for manager in small_org.managers:
        assert manager.manager_id == vp.id
    for rep in small_org.reps:
        manager = small_org.user(rep.manager_id or "")
        assert manager.role == "Sales Manager"
        assert manager.manager_id == vp.id


def test_teams_match_their_managers_and_reps(small_org: SalesOrg):
    assert len(small_org.teams) == SMALL.managers
    for team in small_org.teams:
        manager = small_org.user(team.manager_id)
        assert manager.team_id == team.id
        members = [r for r in small_org.reps if r.team_id == team.id]
        assert members
        assert all(r.manager_id == manager.id for r in members)


def test_active_reps_are_split_as_evenly_as_possible_across_teams():
    org = generate_org(OrgSpec(managers=3, reps=10, months=3, deal_scale=0.05))
    sizes = Counter(r.team_id for r in org.active_reps)
    assert sum(sizes.values()) == 10
    assert max(sizes.values()) - min(sizes.values()) <= 1


def test_users_have_unique_ids_emails_and_real_time_zones(small_org: SalesOrg):
    assert len({u.id for u in small_org.users}) == len(small_org.users)
    assert len({u.email for u in small_org.users}) == len(small_org.users)
    for user in small_org.users:
        assert ZoneInfo(user.time_zone)
        assert user.email.endswith(".example")


def _successor(org: SalesOrg) -> User:
    """The newcomer who took over the leaver's later-stage deals."""
    newcomers = {r.id: r for r in org.reps if r.start_date > org.history_start}
    heirs = {d.owner_id for d in org.deals if d.owner_id in newcomers
             and d.created_at.date() < newcomers[d.owner_id].start_date}  # fmt: skip
    assert len(heirs) == 1
    return newcomers[heirs.pop()]


def test_one_rep_replaced_a_leaver_and_the_org_hires_one_more_per_12_reps(small_org: SalesOrg):
    newcomers = [r for r in small_org.reps if r.start_date > small_org.history_start]
    assert len(newcomers) == SMALL.reps // 12
    successor = _successor(small_org)
    assert 0 < (SMALL.as_of - successor.start_date).days <= 90
    leavers = [r for r in small_org.reps if not r.is_active]
    assert len(leavers) == 1
    assert leavers[0].team_id == successor.team_id
    personas = {t.user_id: t.persona for t in small_org.truth}
    assert {personas[r.id] for r in newcomers} == {"ramping"}


def test_the_leaver_keeps_no_open_deals_and_logs_nothing_after_leaving(small_org: SalesOrg):
    leaver = next(r for r in small_org.reps if not r.is_active)
    successor = _successor(small_org)
    assert all(d.is_closed for d in small_org.deals_of(leaver.id))
    last_activity = max(a.occurred_at for a in small_org.activities_of(leaver.id))
    assert last_activity.date() < successor.start_date


# ---------------------------------------------------------------- deals


def test_stages_are_five_open_then_won_and_lost():
    assert [s.category for s in STAGES] == ["open"] * 5 + ["won", "lost"]
    assert [s.order for s in STAGES] == sorted(s.order for s in STAGES)
    open_probabilities = [s.probability for s in STAGES if s.category == "open"]
    assert open_probabilities == sorted(open_probabilities)


def test_replaying_a_deals_history_gives_its_current_state(small_org: SalesOrg):
    for deal in small_org.deals:
        stage, amount, close, probability = _replay(deal)
        assert (stage, amount, close) == (deal.stage_key, deal.amount, deal.close_date)
        assert probability == small_org.stage(deal.stage_key).probability


def test_deal_history_starts_complete_and_is_in_time_order(small_org: SalesOrg):
    for deal in small_org.deals:
        first = deal.history[0]
        assert first.at == deal.created_at
        assert None not in (first.stage_key, first.amount, first.close_date, first.probability)
        instants = [change.at for change in deal.history]
        assert instants == sorted(instants)


def test_closed_deals_have_closed_at_and_a_won_or_lost_stage(small_org: SalesOrg):
    for deal in small_org.deals:
        category = small_org.stage(deal.stage_key).category
        if deal.closed_at is None:
            assert category == "open"
        else:
            assert category in ("won", "lost")
            assert deal.closed_at == deal.history[-1].at
            assert deal.next_step is None


def test_qualification_has_the_four_fields_and_is_sometimes_empty(small_org: SalesOrg):
    keys = {"budget_confirmed", "decision_maker", "pain_identified", "next_meeting_date"}
    for deal in small_org.deals:
        assert set(deal.qualification) == keys
        assert isinstance(deal.qualification["budget_confirmed"], bool)
    empty = [d for d in small_org.deals if d.qualification["pain_identified"] is None]
    assert 0 < len(empty) < len(small_org.deals)


def test_no_activity_touches_a_deal_before_it_exists_except_its_originating_meeting(
    small_org: SalesOrg,
):
    for activity in small_org.activities:
        if activity.deal_id is None:
            continue
        deal = small_org.deal(activity.deal_id)
        if activity.occurred_at < deal.created_at:
            assert activity.kind == "meeting"
            assert activity.subject.startswith("Discovery meeting")
            assert deal.created_at - activity.occurred_at < timedelta(days=8)
        if deal.closed_at is not None:
            assert activity.occurred_at <= deal.closed_at


def test_deals_created_in_the_history_begin_with_a_meeting(small_org: SalesOrg):
    first_by_deal: dict[str, Activity] = {}
    for activity in small_org.activities:  # in time order
        if activity.deal_id is not None:
            first_by_deal.setdefault(activity.deal_id, activity)
    settled = small_org.history_start + timedelta(days=8)  # earlier origins predate history
    created = [d for d in small_org.deals if d.created_at.date() >= settled]
    assert created
    for deal in created:
        first = first_by_deal[deal.id]
        assert first.kind == "meeting"
        assert first.outcome == "Held"
        assert first.occurred_at < deal.created_at


def test_several_deals_have_their_close_date_pushed_three_times_or_more(org: SalesOrg):
    pushes = [
        sum(1 for c in d.history[1:] if c.stage_key is None and c.close_date is not None)
        for d in org.deals
    ]
    assert sum(1 for count in pushes if count >= 3) >= 10


def test_default_org_has_realistic_deal_volumes_win_rate_and_amounts(org: SalesOrg):
    assert 1500 <= len(org.deals) <= 3000
    won = sum(1 for d in org.deals if d.stage_key == "won")
    lost = sum(1 for d in org.deals if d.stage_key == "lost")
    assert 0.20 <= won / (won + lost) <= 0.35
    amounts = sorted(d.amount for d in org.deals)
    assert Decimal(8_000) <= amounts[len(amounts) // 2] <= Decimal(80_000)
    for deal in org.deals:
        assert deal.amount == deal.amount.quantize(Decimal("0.01")) > 0


# ---------------------------------------------------------------- activities


def test_default_org_volumes(org: SalesOrg):
    # Generation time is measured by `driftcoach sandbox` (it prints its start-up time),
    # not asserted here: timed assertions fail on busy machines.
    assert 100_000 <= len(org.activities) <= 200_000
    assert {a.kind for a in org.activities} == {"call", "email", "meeting", "task", "note"}


def test_activities_fall_on_weekdays_in_the_reps_time_zone_except_rare_emails(org: SalesOrg):
    weekend: list[str] = []
    for rep in org.reps:
        zone = ZoneInfo(rep.time_zone)
        weekend += [
            a.kind
            for a in org.activities_of(rep.id)
            if a.occurred_at.astimezone(zone).weekday() >= 5
        ]
    assert set(weekend) == {"email"}
    assert len(weekend) / len(org.activities) < 0.01


def test_activities_fall_in_local_working_hours(small_org: SalesOrg):
    for activity in small_org.activities:
        zone = ZoneInfo(small_org.user(activity.owner_id).time_zone)
        assert 7 <= activity.occurred_at.astimezone(zone).hour < 20


def test_healthy_reps_daily_volumes_are_within_the_stated_ranges(org: SalesOrg):
    ranges = {
        "call": (8, 20),
        "email": (6, 15),
        "meeting": (1, 3),
        "task": (0.5, 4),
        "note": (0.2, 2),
    }
    for truth in org.truth:
        rep = org.user(truth.user_id)
        if truth.drifts or not rep.is_active or rep.start_date > org.history_start:
            continue  # drift lowers volumes; a new hire's few weeks are too small a sample
        worked = len(_worked_days(org, rep.id))
        for kind, (low, high) in ranges.items():
            per_day = sum(_local_days(org, rep.id, kind).values()) / worked
            assert low <= per_day <= high, (rep.id, kind, per_day)


def test_calls_have_dispositions_and_meetings_are_held_or_no_shows(small_org: SalesOrg):
    outcomes: dict[str, set[str | None]] = defaultdict(set)
    for activity in small_org.activities:
        outcomes[activity.kind].add(activity.outcome)
        if activity.kind != "task":
            assert activity.status == "completed"
    assert {"Connected", "Left voicemail", "No answer"} <= outcomes["call"]
    assert outcomes["meeting"] == {"Held", "No show"}
    assert outcomes["email"] == outcomes["note"] == {None}


def test_records_use_utc_instants_and_two_place_money(small_org: SalesOrg):
    for activity in small_org.activities:
        assert activity.occurred_at.tzinfo is UTC
    for deal in small_org.deals:
        assert deal.created_at.tzinfo is UTC
        for change in deal.history:
            assert change.at.tzinfo is UTC
    for quota in small_org.quotas:
        assert quota.amount.as_tuple().exponent == -2


def test_ids_are_unique_short_and_crm_neutral(small_org: SalesOrg):
    deal_ids = [d.id for d in small_org.deals]
    activity_ids = [a.id for a in small_org.activities]
    assert len(set(deal_ids)) == len(deal_ids)
    assert len(set(activity_ids)) == len(activity_ids)
    assert all(i.startswith("d") and len(i) == 7 for i in deal_ids)
    assert all(i.startswith("a") and len(i) == 8 for i in activity_ids)
    assert all(t.id.startswith("t") and len(t.id) == 3 for t in small_org.teams)


# ---------------------------------------------------------------- drift


@pytest.mark.parametrize(("reps", "share", "expected"), [(24, 0.25, 6), (4, 0.1, 1), (8, 0.0, 0)])
def test_the_share_of_drifting_reps_follows_the_spec(reps: int, share: float, expected: int):
    spec = OrgSpec(managers=2, reps=reps, drift_share=share, months=3, deal_scale=0.02)
    assert sum(t.drifts for t in generate_org(spec).truth) == expected


def test_drift_starts_on_a_monday_after_a_baseline_and_before_the_last_six_weeks(org: SalesOrg):
    drifting = [t for t in org.truth if t.drifts]
    assert drifting
    for truth in drifting:
        assert truth.persona == "drifting"
        assert truth.drift_start is not None
        assert truth.drift_start.weekday() == 0
        assert truth.drift_start >= org.history_start + timedelta(weeks=20)
        assert (org.spec.as_of - truth.drift_start).days >= 42
        assert truth.drifting_indicators
        assert set(truth.drifting_indicators) <= set(INDICATORS)
        assert {"calls", "meetings"} & set(truth.drifting_indicators)


def test_a_history_too_short_for_a_baseline_keeps_drift_six_to_twelve_weeks_back():
    org = generate_org(OrgSpec(months=4, deal_scale=0.05))
    starts = [t.drift_start for t in org.truth if t.drift_start is not None]
    assert starts
    assert all(42 <= (org.spec.as_of - start).days <= 84 for start in starts)


def test_drifting_reps_make_clearly_fewer_calls_and_meetings_after_drift_start(org: SalesOrg):
    for truth in org.truth:
        if not truth.drifts or truth.drift_start is None:
            continue
        settled = truth.drift_start + timedelta(days=14)
        worked = _worked_days(org, truth.user_id)
        before = [d for d in worked if d < truth.drift_start]
        after = [d for d in worked if d >= settled]
        for indicator, kind in (("calls", "call"), ("meetings", "meeting")):
            if indicator not in truth.drifting_indicators:
                continue
            daily = _local_days(org, truth.user_id, kind)
            rate_before = sum(daily[d] for d in before) / len(before)
            rate_after = sum(daily[d] for d in after) / len(after)
            assert rate_after < 0.7 * rate_before, (truth.user_id, kind, rate_before, rate_after)


def test_healthy_reps_keep_their_call_volume(org: SalesOrg):
    cutoff = org.spec.as_of - timedelta(weeks=6)
    for truth in org.truth:
        rep = org.user(truth.user_id)
        if truth.drifts or not rep.is_active or rep.start_date > org.history_start:
            continue
        worked = _worked_days(org, rep.id)
        daily = _local_days(org, rep.id, "call")
        before = [d for d in worked if d < cutoff]
        after = [d for d in worked if d >= cutoff]
        ratio = (sum(daily[d] for d in after) / len(after)) / (
            sum(daily[d] for d in before) / len(before)
        )
        assert 0.8 < ratio < 1.25, (rep.id, ratio)


def _stale_share(org: SalesOrg, user_id: str) -> float:
    """Share of a rep's open deals (older than two weeks) untouched for two weeks."""
    horizon = org.spec.as_of - timedelta(days=14)
    touched: dict[str, date] = {}
    for activity in org.activities_of(user_id):
        if activity.deal_id is not None:
            touched[activity.deal_id] = activity.occurred_at.date()
    open_deals = [
        d for d in org.deals_of(user_id) if d.closed_at is None and d.created_at.date() < horizon
    ]
    stale = [d for d in open_deals if touched.get(d.id, d.created_at.date()) < horizon]
    return len(stale) / len(open_deals) if open_deals else 0.0


def test_each_drifting_indicator_shows_in_that_reps_deals(org: SalesOrg):
    for truth in org.truth:
        start = truth.drift_start
        if start is None:
            continue
        deals = org.deals_of(truth.user_id)
        if "stalled_deals" in truth.drifting_indicators:
            assert _stale_share(org, truth.user_id) >= 0.4
        if "pipeline_created" in truth.drifting_indicators:
            before = [
                d for d in deals if start - timedelta(weeks=12) <= d.created_at.date() < start
            ]
            settled = start + timedelta(days=14)
            after = [d for d in deals if d.created_at.date() >= settled]
            weeks_after = (org.spec.as_of - settled).days / 7
            assert len(after) / weeks_after < 0.7 * len(before) / 12
        if "qualification" in truth.drifting_indicators:
            fields = [
                d.qualification[key]
                for d in deals
                if d.created_at.date() >= start
                for key in ("decision_maker", "pain_identified")
            ]
            assert sum(value is None for value in fields) / len(fields) >= 0.5


def test_healthy_reps_keep_most_open_deals_moving(org: SalesOrg):
    shares = sorted(
        _stale_share(org, t.user_id)
        for t in org.truth
        if not t.drifts and org.user(t.user_id).is_active
    )
    assert shares[len(shares) // 2] <= 0.1
    assert shares[-1] < 0.4


# ---------------------------------------------------------------- quotas and truth


def test_quotas_cover_every_quarter_of_each_reps_employment(small_org: SalesOrg):
    first, last = small_org.history_start, SMALL.as_of
    for rep in small_org.reps:
        periods = sorted((q.period_start, q.period_end) for q in small_org.quotas_of(rep.id))
        assert periods
        assert periods[0][0] <= max(first, rep.start_date)
        final_day = (
            last
            if rep.is_active
            else max(a.occurred_at for a in small_org.activities_of(rep.id)).date()
        )
        assert periods[-1][0] <= final_day <= periods[-1][1]
        for (_, end), (start, _) in itertools.pairwise(periods):
            assert start == end + timedelta(days=1)
        assert all(start.day == 1 and start.month in (1, 4, 7, 10) for start, _ in periods)
    assert all(q.amount > 0 for q in small_org.quotas)


def _final_start(as_of: date, rep_last_quota: date | None) -> date:
    current = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    if rep_last_quota is not None:
        return rep_last_quota
    if (as_of - current).days + 1 >= 30:
        return current
    previous = current - timedelta(days=1)
    return date(previous.year, 3 * ((previous.month - 1) // 3) + 1, 1)


def test_ground_truth_attainment_matches_an_independent_recomputation(org: SalesOrg):
    as_of, first = org.spec.as_of, org.history_start
    for truth in org.truth:
        rep = org.user(truth.user_id)
        won = [d for d in org.deals if d.owner_id == rep.id and d.stage_key == "won"]
        expected: dict[date, Decimal] = {}
        for quota in org.quotas_of(rep.id):
            start, end = max(quota.period_start, first), min(quota.period_end, as_of)
            total = sum((d.amount for d in won if start <= d.close_date <= end), Decimal(0))
            share = Decimal((end - start).days + 1) / (
                (quota.period_end - quota.period_start).days + 1
            )
            expected[quota.period_start] = total / (quota.amount * share)
        assert set(truth.attainment_by_quarter) == set(expected)
        for start, value in expected.items():
            assert abs(truth.attainment_by_quarter[start] - value) < Decimal("0.0002")
        last_quota = None if rep.is_active else max(expected)
        final = expected[_final_start(as_of, last_quota)]
        assert abs(truth.final_attainment - final) < Decimal("0.0002")
        assert truth.missed_quota == (truth.final_attainment < MISS_THRESHOLD)


def test_most_healthy_reps_reach_80_percent_and_drifting_reps_miss(org: SalesOrg):
    healthy = [t for t in org.truth if not t.drifts and org.user(t.user_id).is_active]
    drifting = [t for t in org.truth if t.drifts]
    assert len(drifting) == 6
    assert all(t.missed_quota for t in drifting)
    hitting = [t for t in healthy if t.final_attainment >= Decimal("0.8")]
    assert len(hitting) >= 0.75 * len(healthy)


def test_summary_counts_records_and_names_drifting_reps(small_org: SalesOrg):
    summary = small_org.summary()
    assert summary["deals"] == len(small_org.deals)
    assert summary["activities"] == len(small_org.activities)
    by_kind = summary["activities_by_kind"]
    assert isinstance(by_kind, dict)
    assert sum(by_kind.values()) == len(small_org.activities)
    assert summary["drifting_reps"] == [u.name for u in small_org.drifting_reps]
    assert "activities=" not in repr(small_org)
