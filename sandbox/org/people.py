"""The org chart and each rep's working profile.

A VP at the top, one manager per team reporting to the VP, reps split as evenly as possible
across teams. Two wrinkles every real org has (only when there are 4+ reps): one rep joined
45-85 days ago and is still ramping, and the rep they replaced left the day before they
started; the leaver's deals past qualification move to the newcomer, the rest are closed
lost (see :mod:`.timeline`). Orgs of 24+ reps also hire into open headcount through the
history: one more new hire per 12 reps, starting on any working day from a month into the
history to 45 days before its end.

Every other active rep has a persona (:data:`.model.Persona`), drawn at random in the
shares the spec sets: **drifting** reps disengage from a date and stay low (see
:mod:`.drift_plan`); **noisy** reps have isolated bad days (one working day in ten at 15%
of their usual activity) and take two to three more weeks of leave a year than others, but
never drift; **unlucky** reps work as much as anyone and convert worse (stage conversions
10% lower, each decision won 45-65% as often), against a quota set for normal conversion;
**steady** reps are the rest. New hires' activity and pipeline build up from 30% to full
over their first 60 days.

Per-rep baselines differ, as they do between real reps: calls 9.5-18.5 a working day,
emails 7-14, meetings held 1.1-2.3 (plus the meetings that originate deals), tasks 1-3 and
notes 0.4-1.5; 0.3-0.46 new deals a working day; deal amounts lognormal around a rep median
of 12k-65k; sales cycles 0.75-1.3 times the pipeline's typical stage durations.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .drift_plan import DriftPlan, drift_count, plan_drift
from .model import OrgSpec, Persona, Role, Team, User
from .names import (
    ACCOUNT_INDUSTRIES,
    ACCOUNT_PREFIXES,
    ACCOUNT_SUFFIXES,
    EMAIL_DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    TEAM_REGIONS,
)
from .workdays import history_start, next_workday, workdays

ACCOUNTS_PER_REP = 40
#: Reps per extra new hire in orgs of at least this many reps.
REPS_PER_HIRE = 12
#: A noisy rep's bad days: the share of working days, and the activity left on them.
BAD_DAY_SHARE, BAD_DAY_LEVEL = 0.1, 0.15
#: A new hire's activity starts at this share of their own level and is full after RAMP_DAYS.
RAMP_FLOOR, RAMP_DAYS = 0.3, 60
#: An unlucky rep's stage conversions are this share of normal.
UNLUCKY_CONVERSION = 0.9


@dataclass(frozen=True, slots=True)
class RepProfile:
    """Everything the deal and activity simulations need to know about one rep."""

    user_id: str
    persona: Persona
    zone: str
    seed: int
    start: date
    end: date | None
    ramping: bool
    calls: float
    emails: float
    meetings: float
    tasks: float
    notes: float
    deals_per_day: float
    median_amount: float
    speed: float
    quality: float
    aim: float
    pto: frozenset[date]
    accounts: tuple[str, ...]
    drift: DriftPlan | None
    successor: str | None
    #: The share of decisions won compared with a rep of normal conversion (unlucky < 1).
    luck: float = 1.0
    bad_days: frozenset[date] = frozenset()

    def stream(self, name: str) -> random.Random:
        """An independent, reproducible random stream for one part of this rep's simulation."""
        return random.Random(f"{self.seed}:{name}")

    def level(self, indicator: str, day: date) -> float:
        """The multiplier on this rep's own baseline for ``indicator`` on ``day``: ramp-up,
        drift and bad days together (1.0 on an ordinary day)."""
        level = 1.0
        if self.ramping:
            level *= min(1.0, RAMP_FLOOR + (1 - RAMP_FLOOR) * (day - self.start).days / RAMP_DAYS)
        if self.drift is not None:
            level *= self.drift.factor(indicator, day)
        if day in self.bad_days:
            level *= BAD_DAY_LEVEL
        return level


@dataclass(frozen=True, slots=True)
class People:
    users: tuple[User, ...]
    teams: tuple[Team, ...]
    profiles: tuple[RepProfile, ...]


def team_sizes(reps: int, managers: int) -> list[int]:
    return [reps // managers + (1 if i < reps % managers else 0) for i in range(managers)]


def build_people(spec: OrgSpec, master: random.Random) -> People:
    """Users, teams and rep profiles, drawing from ``master`` in a fixed order."""
    wrinkles = spec.reps >= 4
    names = _unique_names(master, 1 + spec.managers + spec.reps + (1 if wrinkles else 0))
    start = history_start(spec.as_of, spec.months)
    teams = [
        Team(f"t{index + 1:02d}", f"{_region(index)[0]} Sales", _uid(2 + index))
        for index in range(spec.managers)
    ]
    users = [_vp(names[0], start)]
    users += [_manager(t, names[1 + i], start, master, i) for i, t in enumerate(teams)]
    slots = _hire_into_headcount(spec, _rep_slots(spec, teams, master, start, wrinkles), master)
    personas = _personas(spec, slots, master)
    profiles: list[RepProfile] = []
    for slot in slots:
        user = _rep_user(slot, names[len(users)], len(users) + 1)
        users.append(user)
        persona = personas.get(slot.key, "ramping" if slot.ramping else "steady")
        plan = plan_drift(master, start, spec.as_of) if persona == "drifting" else None
        profiles.append(_profile(spec, master, user, slot, persona, plan))
    return People(tuple(users), tuple(teams), tuple(_link_successor(profiles)))


@dataclass(frozen=True, slots=True)
class _Slot:
    """A rep-to-be: team, employment window and whether it is the ramping or leaving rep."""

    key: int
    team: Team
    zone: str
    start: date
    end: date | None
    ramping: bool
    senior: bool


def _rep_slots(
    spec: OrgSpec, teams: list[Team], master: random.Random, start: date, wrinkles: bool
) -> list[_Slot]:
    slots: list[_Slot] = []
    ramp_start = next_workday(spec.as_of - timedelta(days=master.randint(45, 85)))
    sizes = team_sizes(spec.reps, spec.managers)
    for index, (team, size) in enumerate(zip(teams, sizes, strict=True)):
        zone = _region(index)[1]
        for position in range(size):
            ramping = wrinkles and index == 0 and position == size - 1
            tenure = master.randint(120, 1500)
            hired = ramp_start if ramping else start - timedelta(days=tenure)
            slots.append(_Slot(len(slots), team, zone, hired, None, ramping, tenure > 900))
            if ramping:
                left = workdays(ramp_start - timedelta(days=7), ramp_start - timedelta(days=1))[-1]
                hired = start - timedelta(days=master.randint(400, 1500))
                slots.append(_Slot(len(slots), team, zone, hired, left, False, False))
    return slots


def _hire_into_headcount(spec: OrgSpec, slots: list[_Slot], master: random.Random) -> list[_Slot]:
    """Turn one settled rep per :data:`REPS_PER_HIRE` into a hire made during the history."""
    if spec.reps < 2 * REPS_PER_HIRE:
        return slots
    first = history_start(spec.as_of, spec.months) + timedelta(days=30)
    span = (spec.as_of - timedelta(days=45) - first).days
    if span <= 0:
        return slots
    settled = [slot.key for slot in slots if slot.end is None and not slot.ramping]
    hires = set(master.sample(settled, spec.reps // REPS_PER_HIRE - 1))
    return [
        replace(slot, start=next_workday(first + timedelta(days=master.randrange(span))),
                ramping=True, senior=False)
        if slot.key in hires else slot
        for slot in slots
    ]  # fmt: skip


def _personas(spec: OrgSpec, slots: list[_Slot], master: random.Random) -> dict[int, Persona]:
    """Personas of the settled active reps, in the shares the spec sets; the rest steady."""
    eligible = [slot.key for slot in slots if slot.end is None and not slot.ramping]
    master.shuffle(eligible)
    counts: list[tuple[Persona, int]] = [
        ("drifting", drift_count(spec.reps, spec.drift_share)),
        ("noisy", round(spec.reps * spec.noisy_share)),
        ("unlucky", round(spec.reps * spec.unlucky_share)),
    ]
    personas: dict[int, Persona] = {}
    for persona, count in counts:
        for key in eligible[len(personas) : len(personas) + count]:
            personas[key] = persona
    return personas


def _profile(  # noqa: PLR0917 - one call site, each argument a different kind
    spec: OrgSpec,
    master: random.Random,
    user: User,
    slot: _Slot,
    persona: Persona,
    plan: DriftPlan | None,
) -> RepProfile:
    rng = random.Random(master.getrandbits(64))
    scale = spec.deal_scale
    noisy = persona == "noisy"
    unlucky = persona == "unlucky"
    return RepProfile(
        user_id=user.id,
        persona=persona,
        zone=slot.zone,
        seed=rng.getrandbits(64),
        start=slot.start,
        end=slot.end,
        ramping=slot.ramping,
        calls=rng.uniform(9.5, 18.5) * scale,
        emails=rng.uniform(7.0, 14.0) * scale,
        meetings=rng.uniform(1.1, 2.3) * scale,
        tasks=rng.uniform(1.0, 3.0) * scale,
        notes=rng.uniform(0.4, 1.5) * scale,
        deals_per_day=rng.uniform(0.30, 0.46) * scale,
        median_amount=math.exp(rng.uniform(math.log(12_000), math.log(65_000))),
        speed=rng.uniform(0.75, 1.3),
        quality=rng.uniform(0.93, 1.07),
        aim=rng.uniform(0.92, 1.05),
        pto=_pto(rng, spec, extra_weeks=rng.randint(2, 3) if noisy else 0),
        accounts=_accounts(rng),
        drift=plan,
        successor=None,
        luck=rng.uniform(0.45, 0.65) if unlucky else 1.0,
        bad_days=_bad_days(rng, spec) if noisy else frozenset(),
    )


def _link_successor(profiles: list[RepProfile]) -> list[RepProfile]:
    """Point the leaver's profile at the ramping rep who inherits their late-stage deals."""
    ramping = [p.user_id for p in profiles if p.ramping]
    if not ramping:
        return profiles
    leaver = next(p for p in profiles if p.end is not None)
    return [
        replace(p, successor=ramping[0])
        if p is leaver
        # the newcomer takes over the leaver's territory: same accounts, same deal sizes
        else replace(p, accounts=leaver.accounts, median_amount=leaver.median_amount)
        if p.ramping
        else p
        for p in profiles
    ]


def _pto(rng: random.Random, spec: OrgSpec, extra_weeks: int = 0) -> frozenset[date]:
    """About two blocks of 3-5 working days of leave a year, and ``extra_weeks`` more
    blocks of a working week a year."""
    first = history_start(spec.as_of, spec.months)
    days = workdays(first, spec.as_of)
    leave: set[date] = set()
    for _ in range(max(1, round(2 * spec.months / 12))):
        begin = rng.randrange(len(days))
        leave.update(days[begin : begin + rng.randint(3, 5)])
    for _ in range(round(extra_weeks * spec.months / 12)):
        begin = rng.randrange(len(days))
        leave.update(days[begin : begin + 5])
    return frozenset(leave)


def _bad_days(rng: random.Random, spec: OrgSpec) -> frozenset[date]:
    """Isolated working days with little activity: a sick day, a day of internal meetings."""
    days = workdays(history_start(spec.as_of, spec.months), spec.as_of)
    return frozenset(day for day in days if rng.random() < BAD_DAY_SHARE)


def _accounts(rng: random.Random) -> tuple[str, ...]:
    """A territory of invented accounts; a rep sells to the same accounts more than once."""
    return tuple(
        f"{rng.choice(ACCOUNT_PREFIXES)} {rng.choice(ACCOUNT_INDUSTRIES)} "
        f"{rng.choice(ACCOUNT_SUFFIXES)}"
        for _ in range(ACCOUNTS_PER_REP)
    )


def _unique_names(master: random.Random, count: int) -> list[tuple[str, str]]:
    picks = master.sample(range(len(FIRST_NAMES) * len(LAST_NAMES)), count)
    return [(FIRST_NAMES[p // len(LAST_NAMES)], LAST_NAMES[p % len(LAST_NAMES)]) for p in picks]


def _region(index: int) -> tuple[str, str]:
    region, zone = TEAM_REGIONS[index % len(TEAM_REGIONS)]
    cycle = index // len(TEAM_REGIONS)
    return (f"{region} {cycle + 1}" if cycle else region), zone


def _uid(number: int) -> str:
    return f"u{number:04d}"


def _user(
    uid: str,
    name: tuple[str, str],
    role: Role,
    *,
    manager: str | None,
    team: str | None,
    started: date,
    zone: str,
    title: str,
    active: bool = True,
) -> User:
    first, last = name
    email = f"{first}.{last}@{EMAIL_DOMAIN}".lower()
    return User(uid, first, last, email, title, role, manager, team, active, started, zone)


def _vp(name: tuple[str, str], start: date) -> User:
    hired = start - timedelta(days=2200)
    zone = _region(0)[1]
    return _user(
        "u0001",
        name,
        "VP Sales",
        manager=None,
        team=None,
        started=hired,
        zone=zone,
        title="VP of Sales",
    )


def _manager(
    team: Team, name: tuple[str, str], start: date, master: random.Random, index: int
) -> User:
    return _user(
        team.manager_id,
        name,
        "Sales Manager",
        manager="u0001",
        team=team.id,
        started=start - timedelta(days=master.randint(700, 2000)),
        zone=_region(index)[1],
        title=f"Sales Manager, {team.name}",
    )


def _rep_user(slot: _Slot, name: tuple[str, str], number: int) -> User:
    return _user(
        _uid(number),
        name,
        "Account Executive",
        manager=slot.team.manager_id,
        team=slot.team.id,
        started=slot.start,
        zone=slot.zone,
        title="Senior Account Executive" if slot.senior else "Account Executive",
        active=slot.end is None,
    )
