"""The records the fake portal holds: CRM objects, owners, teams and deal pipelines.

CRM objects are plain slotted classes with dict properties and list histories rather than
validated models: a benchmark org loads 150,000 engagements, and per-object overhead is
what decides whether that takes one second or twenty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.values import iso

# One history entry: (value, epoch millis, sourceType, sourceId or None).
HistoryEntry = tuple[str | None, int, str, str | None]

#: Moves on every attribute written to any CrmObject (and every object added): what the
#: search memo checks (see :mod:`search_memo`), however the object was changed.
_revision = [0]


def revision() -> int:
    return _revision[0]


def changed() -> None:
    """Something a search could see changed (an object was written or added)."""
    _revision[0] += 1


class CrmObject:
    """One deal or engagement; ``history`` holds entries newest first, per property."""

    __slots__ = (
        "archived_ms",
        "assoc",
        "created_ms",
        "history",
        "id",
        "indexed",
        "props",
        "type",
        "updated_ms",
    )

    def __init__(
        self, object_id: int, object_type: str, props: dict[str, str | None], created_ms: int
    ) -> None:
        self.id = object_id
        self.type = object_type
        self.props = props
        self.created_ms = created_ms
        self.updated_ms = created_ms
        self.archived_ms: int | None = None
        # Only properties whose past differs from "set once, at creation" have entries.
        self.history: dict[str, list[HistoryEntry]] | None = None
        # Associated ids per object type, as insertion-ordered sets (dict keys); both
        # directions are stored.
        self.assoc: dict[str, dict[int, None]] | None = None
        # What the (lagging) search index still shows: see SearchView.
        self.indexed: SearchView | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        _revision[0] += 1

    def copy(self) -> CrmObject:
        twin = CrmObject(self.id, self.type, dict(self.props), self.created_ms)
        twin.updated_ms, twin.archived_ms = self.updated_ms, self.archived_ms
        if self.history is not None:
            twin.history = {name: list(entries) for name, entries in self.history.items()}
        if self.assoc is not None:
            twin.assoc = {name: dict(ids) for name, ids in self.assoc.items()}
        twin.indexed = self.indexed
        return twin


@dataclass(frozen=True, slots=True)
class SearchView:
    """The object as the search index still sees it until ``fresh_from_ms``.

    ``props`` is None when the index has not seen the object yet (just created).
    """

    props: Mapping[str, str | None] | None
    updated_ms: int
    archived: bool
    fresh_from_ms: int


@dataclass(frozen=True)
class PipelineStage:
    id: str
    label: str
    probability: float
    is_closed: bool = False
    display_order: int = 0

    @property
    def is_won(self) -> bool:
        return self.is_closed and self.probability >= 1.0


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    stages: Sequence[PipelineStage]
    display_order: int = 0


def default_pipelines() -> tuple[Pipeline, ...]:
    """HubSpot's default sales pipeline, as every new portal has it."""
    stages = (
        PipelineStage("appointmentscheduled", "Appointment Scheduled", 0.2),
        PipelineStage("qualifiedtobuy", "Qualified To Buy", 0.4),
        PipelineStage("presentationscheduled", "Presentation Scheduled", 0.6),
        PipelineStage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
        PipelineStage("contractsent", "Contract Sent", 0.9),
        PipelineStage("closedwon", "Closed Won", 1.0, is_closed=True),
        PipelineStage("closedlost", "Closed Lost", 0.0, is_closed=True),
    )
    ordered = tuple(
        PipelineStage(s.id, s.label, s.probability, s.is_closed, i) for i, s in enumerate(stages)
    )
    return (Pipeline("default", "Sales Pipeline", ordered),)


@dataclass(frozen=True)
class Team:
    id: str
    name: str


@dataclass
class Owner:
    id: str
    user_id: int
    email: str
    first_name: str
    last_name: str
    created_ms: int
    updated_ms: int
    archived: bool = False
    team_ids: tuple[str, ...] = ()
    primary_team_id: str | None = None
    teams: list[Team] = field(default_factory=list)


def read_value(
    obj: CrmObject,
    name: str,
    props: Mapping[str, str | None],
    stages: Mapping[tuple[str, str], PipelineStage],
) -> str | None:
    """A property's current value, including the ones HubSpot computes on the fly."""
    computed = _COMPUTED.get(name)
    if computed is not None:
        return computed(obj, props, stages)
    return props.get(name)


def read_values(
    obj: CrmObject,
    names: Sequence[str],
    props: Mapping[str, str | None],
    stages: Mapping[tuple[str, str], PipelineStage],
) -> dict[str, str | None]:
    """:func:`read_value` of each name (one call per object: rendering a page calls this
    for every object on it)."""
    values: dict[str, str | None] = {}
    for name in names:
        computed = _COMPUTED.get(name)
        values[name] = props.get(name) if computed is None else computed(obj, props, stages)
    return values


def _created(obj: CrmObject, props: Mapping[str, str | None], _: object) -> str | None:
    # Deals may be given a createdate (imports do); engagements always use the system one.
    return props.get("createdate") or iso(obj.created_ms)


def _stage(
    props: Mapping[str, str | None], stages: Mapping[tuple[str, str], PipelineStage]
) -> PipelineStage | None:
    return stages.get((props.get("pipeline") or "default", props.get("dealstage") or ""))


def _is_closed(
    obj: CrmObject, props: Mapping[str, str | None], stages: Mapping[tuple[str, str], PipelineStage]
) -> str | None:
    stage = _stage(props, stages)
    return None if stage is None else str(stage.is_closed).lower()


def _is_won(
    obj: CrmObject, props: Mapping[str, str | None], stages: Mapping[tuple[str, str], PipelineStage]
) -> str | None:
    stage = _stage(props, stages)
    return None if stage is None else str(stage.is_won).lower()


def _probability(
    obj: CrmObject, props: Mapping[str, str | None], stages: Mapping[tuple[str, str], PipelineStage]
) -> str | None:
    stage = _stage(props, stages)
    return None if stage is None else repr(stage.probability)


Computed = Callable[
    [CrmObject, Mapping[str, str | None], Mapping[tuple[str, str], PipelineStage]], str | None
]
_COMPUTED: dict[str, Computed] = {
    "hs_object_id": lambda obj, props, stages: str(obj.id),
    "hs_createdate": lambda obj, props, stages: iso(obj.created_ms),
    "hs_lastmodifieddate": lambda obj, props, stages: iso(obj.updated_ms),
    "createdate": _created,
    "hs_is_closed": _is_closed,
    "hs_is_closed_won": _is_won,
    "hs_deal_stage_probability": _probability,
}
