"""The generated organisation as one value, with the lookups loaders and tests keep needing.

Lookups are computed on first use and cached on the instance; they are not fields, so two
orgs compare equal exactly when their records do. The big collections are left out of the
repr so an accidental print or a failing assertion does not dump 150k activities.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from .model import Activity, Deal, OrgSpec, Quota, RepTruth, Stage, Team, User
from .workdays import history_start


@dataclass(frozen=True)
class SalesOrg:
    spec: OrgSpec
    teams: tuple[Team, ...] = field(repr=False)
    users: tuple[User, ...] = field(repr=False)
    quotas: tuple[Quota, ...] = field(repr=False)
    deals: tuple[Deal, ...] = field(repr=False)
    activities: tuple[Activity, ...] = field(repr=False)
    stages: tuple[Stage, ...] = field(repr=False)
    truth: tuple[RepTruth, ...] = field(repr=False)

    @property
    def history_start(self) -> date:
        """The first day of history (``spec.as_of`` is the last)."""
        return history_start(self.spec.as_of, self.spec.months)

    @property
    def vp(self) -> User:
        return next(u for u in self.users if u.role == "VP Sales")

    @property
    def managers(self) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.role == "Sales Manager")

    @property
    def reps(self) -> tuple[User, ...]:
        """Every account executive, including any who have left."""
        return tuple(u for u in self.users if u.role == "Account Executive")

    @property
    def active_reps(self) -> tuple[User, ...]:
        return tuple(u for u in self.reps if u.is_active)

    @property
    def drifting_reps(self) -> tuple[User, ...]:
        return tuple(self.user(t.user_id) for t in self.truth if t.drifts)

    @cached_property
    def users_by_id(self) -> Mapping[str, User]:
        return {u.id: u for u in self.users}

    @cached_property
    def teams_by_id(self) -> Mapping[str, Team]:
        return {t.id: t for t in self.teams}

    @cached_property
    def deals_by_id(self) -> Mapping[str, Deal]:
        return {d.id: d for d in self.deals}

    @cached_property
    def stages_by_key(self) -> Mapping[str, Stage]:
        return {s.key: s for s in self.stages}

    @cached_property
    def truth_by_user(self) -> Mapping[str, RepTruth]:
        return {t.user_id: t for t in self.truth}

    def user(self, user_id: str) -> User:
        return self.users_by_id[user_id]

    def team(self, team_id: str) -> Team:
        return self.teams_by_id[team_id]

    def deal(self, deal_id: str) -> Deal:
        return self.deals_by_id[deal_id]

    def stage(self, key: str) -> Stage:
        return self.stages_by_key[key]

    def truth_for(self, user_id: str) -> RepTruth:
        return self.truth_by_user[user_id]

    def deals_of(self, user_id: str) -> tuple[Deal, ...]:
        return self._deals_by_owner.get(user_id, ())

    def activities_of(self, user_id: str) -> tuple[Activity, ...]:
        """A user's activities in time order."""
        return self._activities_by_owner.get(user_id, ())

    def quotas_of(self, user_id: str) -> tuple[Quota, ...]:
        return tuple(q for q in self.quotas if q.user_id == user_id)

    @cached_property
    def _deals_by_owner(self) -> Mapping[str, tuple[Deal, ...]]:
        grouped: dict[str, list[Deal]] = defaultdict(list)
        for deal in self.deals:
            grouped[deal.owner_id].append(deal)
        return {owner: tuple(items) for owner, items in grouped.items()}

    @cached_property
    def _activities_by_owner(self) -> Mapping[str, tuple[Activity, ...]]:
        grouped: dict[str, list[Activity]] = defaultdict(list)
        for activity in self.activities:
            grouped[activity.owner_id].append(activity)
        return {owner: tuple(items) for owner, items in grouped.items()}

    def summary(self) -> dict[str, object]:
        """Counts and the names that matter, small enough to print."""
        return {
            "seed": self.spec.seed,
            "history": f"{self.history_start.isoformat()}..{self.spec.as_of.isoformat()}",
            "teams": len(self.teams),
            "users": len(self.users),
            "managers": len(self.managers),
            "reps": len(self.reps),
            "active_reps": len(self.active_reps),
            "quotas": len(self.quotas),
            "deals": len(self.deals),
            "deals_by_stage": dict(sorted(Counter(d.stage_key for d in self.deals).items())),
            "activities": len(self.activities),
            "activities_by_kind": dict(sorted(Counter(a.kind for a in self.activities).items())),
            "drifting_reps": [u.name for u in self.drifting_reps],
            "missed_quota": [self.user(t.user_id).name for t in self.truth if t.missed_quota],
        }
