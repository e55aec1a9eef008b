"""Each rep's calls, emails, meetings, tasks and notes, day by day.

Assumptions: reps work Monday-Friday except company holidays and their own leave; on a
weekend a rep sends an email or two about one day in eight and does nothing else. Daily
counts are Poisson around the rep's baseline times their level that day (a new hire's
ramp-up, a drifting rep's calls and meetings sliding to their floor from the drift start,
a noisy rep's bad days: :meth:`.people.RepProfile.level`). Times fall in local working
hours: calls 08:30-17:30, emails 07:30-19:00, meetings on the half hour 09:00-16:30, tasks
and notes during the day. Logging is sparse, as in real CRMs: only a share of each kind is
linked to one of the rep's workable open deals (calls 25%, emails 35%, meetings 55%, tasks
and notes 40%): deals from the day after creation to the day before they close, never
after a stall; one deal in four also goes quiet for 15-30 days at some point (a busy
customer, a holiday), so a quiet deal alone does not mean drift.
Deal-originating meetings come from :mod:`.deals`. Calls connect 32% of the time (a few
minutes, lognormal), go to voicemail 33%, ring out 30%, are busy 5%; 8% of meetings are
no-shows. Tasks are open when due in the last week (40%), when a drifting rep let them
slide (25%), or occasionally overdue (4%); everything else is completed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from .deals import DealPlan, SimContext
from .model import ActivityKind, ActivityStatus
from .names import CALL_SUBJECTS, EMAIL_SUBJECTS, MEETING_SUBJECTS, NOTE_SUBJECTS, TASK_SUBJECTS
from .people import RepProfile
from .workdays import ONE_DAY, is_workday, local_day, local_midnight_utc

#: An Activity without its id: kind, owner_id, occurred_at, deal_id, subject, outcome,
#: duration_seconds, status. Ids are given once all reps' rows are merged in time order.
Row = tuple[ActivityKind, str, datetime, str | None, str, str | None, int | None, ActivityStatus]
Pool = list[tuple[str, str, date]]  # deal_id, account, last workable day

MEETING_LENGTHS = (1800, 1800, 2700, 3600)
_T = TypeVar("_T")
NO_SHOW_SHARE = 0.08
#: Share of deals (long enough) that go 15-30 days without any activity at some point.
QUIET_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class DealWindow:
    """The local days on which a rep may work a deal."""

    first: date
    last: date
    deal_id: str
    account: str


@dataclass(frozen=True, slots=True)
class Origin:
    at: datetime
    deal_id: str
    account: str


def originating_meeting(plan: DealPlan, ctx: SimContext) -> Origin | None:
    """The meeting ``plan`` came out of, unless it predates the history."""
    if plan.origin_at < local_midnight_utc(ctx.first_day, plan.creator.zone):
        return None
    return Origin(plan.origin_at, plan.deal_id, plan.account)


def deal_windows(plan: DealPlan, ctx: SimContext) -> list[tuple[str, DealWindow]]:
    """The days each owner may work ``plan``: after creation, before closing or stalling,
    split at a handover and around a quiet stretch."""
    creator, owner = plan.creator, plan.owner
    first = local_day(plan.created_at, creator.zone) + ONE_DAY
    last = ctx.spec.as_of
    if plan.closed_at is not None:
        last = min(last, local_day(plan.closed_at, owner.zone) - ONE_DAY)
    if plan.stall_at is not None:
        last = min(last, local_day(plan.stall_at, owner.zone) - ONE_DAY)
    spans = [(owner.user_id, first, last)]
    if plan.handover_at is not None and creator.end is not None:
        spans = [
            (creator.user_id, first, min(last, creator.end)),
            (owner.user_id, max(first, owner.start), last),
        ]
    quiet = _quiet_stretch(plan, first, last)
    return [
        (user_id, DealWindow(begin, end, plan.deal_id, plan.account))
        for user_id, span_first, span_last in spans
        for begin, end in _without(span_first, span_last, quiet)
    ]


def _quiet_stretch(plan: DealPlan, first: date, last: date) -> tuple[date, date] | None:
    """Some deals go quiet for a while (a busy customer, a holiday); not drift."""
    rng = plan.rng
    if (last - first).days < 30 or rng.random() >= QUIET_SHARE:
        return None
    begin = first + timedelta(days=rng.randint(0, (last - first).days - 15))
    return begin, begin + timedelta(days=rng.randint(15, 30))


def _without(first: date, last: date, gap: tuple[date, date] | None) -> list[tuple[date, date]]:
    if gap is None:
        return [(first, last)] if first <= last else []
    pieces = [(first, min(last, gap[0] - ONE_DAY)), (max(first, gap[1] + ONE_DAY), last)]
    return [(begin, end) for begin, end in pieces if begin <= end]


def rep_activities(
    profile: RepProfile, windows: Sequence[DealWindow], origins: Sequence[Origin], ctx: SimContext
) -> list[Row]:
    """Every activity ``profile`` logs inside the history window."""
    rng = profile.stream("activities")
    rows: list[Row] = [_origin_row(profile.user_id, o, rng) for o in origins]
    ordered = sorted(windows, key=lambda w: (w.first, w.deal_id))
    pool: Pool = []
    cursor = 0
    day = max(ctx.first_day, profile.start)
    last = min(ctx.spec.as_of, profile.end or ctx.spec.as_of)
    while day <= last:
        while cursor < len(ordered) and ordered[cursor].first <= day:
            window = ordered[cursor]
            pool.append((window.deal_id, window.account, window.last))
            cursor += 1
        pool = [item for item in pool if item[2] >= day]
        if day not in profile.pto:
            base = local_midnight_utc(day, profile.zone)
            if is_workday(day):
                _workday(rows, rng, _RepDay(profile, day, base, pool, ctx))
            elif day.weekday() >= 5 and rng.random() < 0.125:
                _weekend_email(rows, rng, profile.user_id, base)
        day += ONE_DAY
    return rows


@dataclass(frozen=True, slots=True)
class _RepDay:
    """One rep's working day: when it starts in UTC and which deals are workable."""

    profile: RepProfile
    day: date
    base: datetime
    pool: Pool
    ctx: SimContext


def _workday(rows: list[Row], rng: random.Random, today: _RepDay) -> None:
    profile, day, base, pool = today.profile, today.day, today.base, today.pool
    calls = profile.calls * profile.level("calls", day)
    meetings = profile.meetings * profile.level("meetings", day)
    uid = profile.user_id
    for _ in range(poisson(rng, calls)):
        deal_id, subject = _about(rng, pool, 0.25, "Call with {}", CALL_SUBJECTS)
        outcome, duration = _call_result(rng)
        at = base + timedelta(seconds=_between(rng, 30600, 63000))
        rows.append(("call", uid, at, deal_id, subject, outcome, duration, "completed"))
    for _ in range(poisson(rng, profile.emails * profile.level("emails", day))):
        deal_id, subject = _about(rng, pool, 0.35, "Email: {}", EMAIL_SUBJECTS)
        at = base + timedelta(seconds=_between(rng, 27000, 68400))
        rows.append(("email", uid, at, deal_id, subject, None, None, "completed"))
    for _ in range(poisson(rng, meetings / (1 - NO_SHOW_SHARE))):
        deal_id, subject = _about(rng, pool, 0.55, "Meeting with {}", MEETING_SUBJECTS)
        outcome = "No show" if rng.random() < NO_SHOW_SHARE else "Held"
        at = base + timedelta(seconds=32400 + 1800 * int(rng.random() * 16))
        length = _pick(rng, MEETING_LENGTHS)
        rows.append(("meeting", uid, at, deal_id, subject, outcome, length, "completed"))
    _tasks_and_notes(rows, rng, today)


def _tasks_and_notes(rows: list[Row], rng: random.Random, today: _RepDay) -> None:
    profile, base, pool, day = today.profile, today.base, today.pool, today.day
    uid = profile.user_id
    open_share = _open_task_share(profile, day, today.ctx)
    for _ in range(poisson(rng, profile.tasks * profile.level("tasks", day))):
        deal_id, subject = _about(rng, pool, 0.4, "Follow up: {}", TASK_SUBJECTS)
        at = base + timedelta(seconds=_between(rng, 28800, 64800))
        status: ActivityStatus = "open" if rng.random() < open_share else "completed"
        rows.append(("task", uid, at, deal_id, subject, None, None, status))
    for _ in range(poisson(rng, profile.notes * profile.level("notes", day))):
        deal_id, subject = _about(rng, pool, 0.4, "Notes: {}", NOTE_SUBJECTS)
        at = base + timedelta(seconds=_between(rng, 32400, 66600))
        rows.append(("note", uid, at, deal_id, subject, None, None, "completed"))


def _about(
    rng: random.Random, pool: Pool, share: float, template: str, fallback: tuple[str, ...]
) -> tuple[str | None, str]:
    """Which open deal (if any) an activity concerns, and its subject line."""
    if pool and rng.random() < share:
        deal_id, account, _last = _pick(rng, pool)
        return deal_id, template.format(account)
    return None, _pick(rng, fallback)


def _open_task_share(profile: RepProfile, day: date, ctx: SimContext) -> float:
    if (ctx.spec.as_of - day).days < 7:
        return 0.40
    if profile.drift is not None and profile.drift.active(day):
        return 0.25
    return 0.04


def _weekend_email(rows: list[Row], rng: random.Random, uid: str, base: datetime) -> None:
    for _ in range(rng.randint(1, 2)):
        at = base + timedelta(seconds=_between(rng, 36000, 72000))
        rows.append(("email", uid, at, None, _pick(rng, EMAIL_SUBJECTS), None, None, "completed"))


def _origin_row(uid: str, origin: Origin, rng: random.Random) -> Row:
    subject = f"Discovery meeting: {origin.account}"
    length = _pick(rng, MEETING_LENGTHS)
    return ("meeting", uid, origin.at, origin.deal_id, subject, "Held", length, "completed")


def _call_result(rng: random.Random) -> tuple[str, int]:
    draw = rng.random()
    if draw < 0.32:
        return "Connected", min(3600, max(30, int(rng.lognormvariate(5.5, 0.7))))
    if draw < 0.65:
        return "Left voicemail", _between(rng, 20, 76)
    if draw < 0.95:
        return "No answer", _between(rng, 5, 31)
    return "Busy", _between(rng, 2, 11)


def _between(rng: random.Random, low: int, high: int) -> int:
    """``randrange(low, high)``, several times faster: this runs ~600k times per org."""
    return low + int(rng.random() * (high - low))


def _pick(rng: random.Random, items: Sequence[_T]) -> _T:
    """``rng.choice`` without its overhead, for the same reason as :func:`_between`."""
    return items[int(rng.random() * len(items))]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: exact for small means, normal approximation above 30."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
