"""The fake portal's data: CRM objects, owners, teams, pipelines and credentials.

One re-entrant lock guards everything; handlers hold it while they read and render, so a
page never mixes two versions of the data. Object ids come from one increasing counter,
so each type's id list is sorted by construction and insertion order is id order.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.hubspot.auth import Credentials
from sandbox.hubspot.imports import History, Importer
from sandbox.hubspot.model import (
    CrmObject,
    Owner,
    Pipeline,
    PipelineStage,
    Team,
    changed,
    default_pipelines,
)
from sandbox.hubspot.properties import (
    OBJECT_TYPES,
    Kind,
    PropertyDef,
)
from sandbox.hubspot.values import (
    ReferenceCheck,
    to_ms,
)


@dataclass(frozen=True)
class _Snapshot:
    objects: dict[str, dict[int, CrmObject]]
    owners: dict[str, Owner]
    teams: dict[str, Team]
    pipelines: tuple[Pipeline, ...]
    next_ids: tuple[int, int, int, int]


class HubSpotState:
    """Thread-safe in-memory portal. Build it with the import API, then serve it."""

    def __init__(self, clock: SandboxClock, *, portal_id: int = 1234567) -> None:
        self.clock, self.portal_id = clock, portal_id
        self.lock = threading.RLock()
        self.credentials = Credentials()
        self.index_lag_ms = 0
        self.objects: dict[str, dict[int, CrmObject]] = {name: {} for name in OBJECT_TYPES}
        self.ids: dict[str, list[int]] = {name: [] for name in OBJECT_TYPES}
        self.owners: dict[str, Owner] = {}
        self.teams: dict[str, Team] = {}
        self.pipelines: tuple[Pipeline, ...] = ()
        self.stages: dict[tuple[str, str], PipelineStage] = {}
        self._next_object, self._next_owner = 10_000_001, 70_000_001
        self._next_user, self._next_team = 9_100_001, 5_000_001
        self._importer = Importer(self)
        self.set_pipelines(default_pipelines())

    def now_ms(self) -> int:
        return to_ms(self.clock.now())

    # ------------------------------------------------------------------ portal setup
    def add_team(self, name: str) -> str:
        with self.lock:
            team = Team(str(self._next_team), name)
            self._next_team += 1
            self.teams[team.id] = team
            return team.id

    def add_owner(
        self,
        *,
        email: str,
        first_name: str,
        last_name: str,
        team_ids: Sequence[str] = (),
        primary_team_id: str | None = None,
        archived: bool = False,
        created_at: datetime | None = None,
    ) -> str:
        """A HubSpot user who can own records; returns the owner id (also gives a userId)."""
        with self.lock:
            missing = [t for t in (*team_ids, primary_team_id) if t and t not in self.teams]
            if missing:
                raise ValueError(f"unknown team ids: {missing}")
            created = to_ms(created_at) if created_at else self.now_ms()
            owner = Owner(
                id=str(self._next_owner),
                user_id=self._next_user,
                email=email,
                first_name=first_name,
                last_name=last_name,
                created_ms=created,
                updated_ms=created,
                archived=archived,
                team_ids=tuple(team_ids),
                primary_team_id=primary_team_id or (team_ids[0] if team_ids else None),
            )
            self._next_owner, self._next_user = self._next_owner + 1, self._next_user + 1
            self.owners[owner.id] = owner
            self._importer.forget()
            return owner.id

    def set_pipelines(self, pipelines: Sequence[Pipeline]) -> None:
        """Replace the deal pipelines (default: HubSpot's "Sales Pipeline")."""
        with self.lock:
            self.pipelines = tuple(pipelines)
            self.stages = {(p.id, s.id): s for p in self.pipelines for s in p.stages}
            self._importer.forget()

    def pipeline(self, pipeline_id: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    # ------------------------------------------------------------------ credentials
    def issue_private_app_token(self) -> str:
        return self.credentials.issue_private_app_token()

    def register_oauth_client(self) -> tuple[str, str, str]:
        return self.credentials.register_oauth_client()

    def issue_authorization_code(self, client_id: str) -> str:
        return self.credentials.issue_authorization_code(client_id)

    # ------------------------------------------------------------------ bulk import
    def import_object(
        self,
        object_type: str,
        properties: Mapping[str, str | None],
        *,
        created_at: datetime,
        updated_at: datetime | None = None,
        history: History | None = None,
        associations: Mapping[str, Sequence[str]] | None = None,
        archived_at: datetime | None = None,
    ) -> str:
        """Load one object with system timestamps and past property values, like an import.

        ``associations`` maps a type to ids (``{"deals": [...]}``), linked with HubSpot's
        default association types; raises ValueError on anything HubSpot would refuse.
        """
        with self.lock:
            return self._importer.import_object(
                object_type,
                properties,
                created_at=created_at,
                updated_at=updated_at,
                history=history,
                associations=associations,
                archived_at=archived_at,
            )

    def add(self, obj: CrmObject) -> None:
        """Store a new object; it must carry the id ``new_id()`` handed out."""
        self.objects[obj.type][obj.id] = obj
        self.ids[obj.type].append(obj.id)
        self._next_object = obj.id + 1
        changed()

    def new_id(self) -> int:
        return self._next_object

    # ------------------------------------------------------------------ shared helpers
    def reference_check(
        self, changes: Mapping[str, object], current: CrmObject | None = None
    ) -> ReferenceCheck:
        """A ReferenceCheck for owner, pipeline and stage values of one write.

        A stage must belong to the deal's pipeline: the one being written, else the one
        the deal is in, else the default pipeline.
        """
        existing = current.props.get("pipeline") if current else None
        pipeline = str(changes.get("pipeline") or existing or "default")

        def check(prop: PropertyDef, value: str) -> bool:
            if prop.kind is Kind.OWNER:
                return value in self.owners
            if prop.kind is Kind.PIPELINE:
                return self.pipeline(value) is not None
            return (pipeline, value) in self.stages

        return check

    @staticmethod
    def link(a: CrmObject, b: CrmObject) -> None:
        """Associate both ways (HubSpot associations are bidirectional)."""
        for one, other in ((a, b), (b, a)):
            if one.assoc is None:
                one.assoc = {}
            one.assoc.setdefault(other.type, {})[other.id] = None

    def get(self, object_type: str, object_id: str) -> CrmObject | None:
        return self.objects[object_type].get(int(object_id)) if object_id.isdigit() else None

    def page(
        self, object_type: str, after: int, limit: int, *, archived: bool
    ) -> tuple[list[CrmObject], int | None]:
        """Objects with id >= after, in id order, and the id the next page starts at."""
        ids, objects = self.ids[object_type], self.objects[object_type]
        found: list[CrmObject] = []
        for position in range(bisect.bisect_left(ids, after), len(ids)):
            obj = objects[ids[position]]
            if (obj.archived_ms is not None) != archived:
                continue
            if len(found) == limit:
                return found, obj.id
            found.append(obj)
        return found, None

    def count(self, object_type: str, *, archived: bool = False) -> int:
        with self.lock:
            return sum(
                (o.archived_ms is not None) == archived for o in self.objects[object_type].values()
            )

    # ------------------------------------------------------------------ reset
    def snapshot(self) -> Any:
        """A copy of all data (not credentials), for the admin reset."""
        with self.lock:
            return _Snapshot(
                objects={
                    t: {i: o.copy() for i, o in objs.items()} for t, objs in self.objects.items()
                },
                owners={k: replace(v) for k, v in self.owners.items()},
                teams=dict(self.teams),
                pipelines=self.pipelines,
                next_ids=(self._next_object, self._next_owner, self._next_user, self._next_team),
            )

    def restore(self, snapshot: Any) -> None:
        if not isinstance(snapshot, _Snapshot):
            raise TypeError("not a HubSpotState snapshot")
        copy = snapshot.objects
        with self.lock:
            self.objects = {t: {i: o.copy() for i, o in objs.items()} for t, objs in copy.items()}
            self.ids = {t: list(objs) for t, objs in self.objects.items()}
            changed()
            self.owners = {k: replace(v) for k, v in snapshot.owners.items()}
            self.teams = dict(snapshot.teams)
            self.set_pipelines(snapshot.pipelines)
            self._next_object, self._next_owner, self._next_user, self._next_team = (
                snapshot.next_ids
            )
