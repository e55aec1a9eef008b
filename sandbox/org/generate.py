"""Generating a whole org: people, deals, decisions, activities, quotas and ground truth.

Only ``random.Random(spec.seed)`` is a source of randomness. It draws the org chart and one
seed per rep in a fixed order; each rep's deals, activities and deal details then come from
streams derived from that seed by name, so the result depends on nothing but the spec
(never the clock, the hash seed or the order dictionaries happen to iterate in).
"""

from __future__ import annotations

import gc
import random
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter

from .activities import DealWindow, Origin, Row, deal_windows, originating_meeting, rep_activities
from .closing import decide_all
from .deals import DealPlan, SimContext, create_deals
from .details import build_deal
from .model import STAGES, Activity, OrgSpec
from .people import RepProfile, build_people
from .quotas import quarter_quota, quotas_for
from .salesorg import SalesOrg
from .timeline import run_timeline
from .truth import build_truth
from .workdays import local_day


def generate_org(spec: OrgSpec) -> SalesOrg:
    """A deterministic sales org with ``spec.months`` of history ending on ``spec.as_of``."""
    with _gc_paused():
        return _generate(spec)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while ~200k cycle-free records are allocated.

    Each allocation burst otherwise triggers collections that rescan every live object,
    costing 20-30% of the generation time; the previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _generate(spec: OrgSpec) -> SalesOrg:
    master = random.Random(spec.seed)
    ctx = SimContext.of(spec)
    people = build_people(spec, master)
    by_id = {p.user_id: p for p in people.profiles}
    successors = {p.user_id: by_id[p.successor] for p in people.profiles if p.successor}
    plans = _simulate(people.profiles, ctx, successors)
    kept = _keep_and_number(plans, ctx)
    deals = tuple(build_deal(plan, spec.as_of) for plan in kept)
    quotas = quotas_for(people.profiles, ctx)
    return SalesOrg(
        spec=spec,
        teams=people.teams,
        users=people.users,
        quotas=quotas,
        deals=deals,
        activities=_activities(people.profiles, kept, ctx),
        stages=STAGES,
        truth=build_truth(people.profiles, deals, quotas, ctx.first_day, spec.as_of),
    )


def _simulate(
    profiles: tuple[RepProfile, ...], ctx: SimContext, successors: dict[str, RepProfile]
) -> list[DealPlan]:
    plans: list[DealPlan] = []
    for profile in profiles:
        plans.extend(create_deals(profile, ctx, len(plans)))
    for plan in plans:
        run_timeline(plan, ctx, successors)
    decide_all(plans, ctx, successors, quarter_quota)
    return plans


def _keep_and_number(plans: list[DealPlan], ctx: SimContext) -> list[DealPlan]:
    """Drop warm-up deals closed before the history starts; number the rest by creation."""
    kept = [
        p
        for p in plans
        if p.closed_at is None or local_day(p.closed_at, p.owner.zone) >= ctx.first_day
    ]
    kept.sort(key=lambda p: (p.created_at, p.seq))
    for number, plan in enumerate(kept, start=1):
        plan.deal_id = f"d{number:06d}"
    return kept


def _activities(
    profiles: tuple[RepProfile, ...], plans: list[DealPlan], ctx: SimContext
) -> tuple[Activity, ...]:
    windows: dict[str, list[DealWindow]] = defaultdict(list)
    origins: dict[str, list[Origin]] = defaultdict(list)
    for plan in plans:
        for owner_id, window in deal_windows(plan, ctx):
            windows[owner_id].append(window)
        origin = originating_meeting(plan, ctx)
        if origin is not None:
            origins[plan.creator.user_id].append(origin)
    rows: list[Row] = []
    for profile in profiles:
        uid = profile.user_id
        rows.extend(rep_activities(profile, windows[uid], origins[uid], ctx))
    rows.sort(key=itemgetter(2))  # stable: ties keep rep order
    return tuple(Activity(f"a{number:07d}", *row) for number, row in enumerate(rows, start=1))
