"""HubSpot owners, pipelines and deals (decoded v3 JSON) into canonical records. Pure.

Decisions, so every consumer reads the same thing:

* **Owners** become reps; ``type: QUEUE`` owners are not people and are skipped. An
  archived owner is a deactivated user: a rep with ``is_active`` False, never deleted
  (their deals still point at them). ``team`` is the primary team's name. The manager
  comes from :func:`resolve_managers`. A rep carries no ``modified_at``: the owner's
  ``updatedAt`` does not move when teams change, and the managers come from configuration,
  so the store rewrites a rep whenever any of its values differs instead.
* **Stages**: the category comes from the pipeline's stage metadata: ``isClosed`` false
  is open; closed with ``probability`` 1.0 is won, any other closed stage lost. A stage
  missing there falls back to the deal's own ``hs_is_closed``/``hs_is_closed_won``.
  ``stage`` is the stage id (stable; labels are renamed), ``probability`` a percentage.
* **Deals**: ``closed_at`` is when the deal entered its current stage, for a closed deal
  (the newest ``dealstage`` history entry). Their history becomes one change per moment
  at which ``dealstage``, ``amount`` or ``closedate`` changed, each a full snapshot of the
  three values as of that moment (as Salesforce's OpportunityHistory rows are), with id
  ``{deal id}:{epoch ms}``. A snapshot never changes once taken, so its ``modified_at``
  is its own moment: re-reading a deal rewrites none of its past changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.hubspot.values import (
    Obj,
    modified_at,
    parse_date,
    parse_datetime,
    props_of,
    text,
    to_decimal,
)
from connectors.records import (
    MAPPING_ERRORS,
    Entity,
    Opportunity,
    OpportunityChange,
    Rejected,
    Rep,
    StageCategory,
    rejection,
)

log = logging.getLogger(__name__)

HISTORY_PROPERTIES = ("dealstage", "amount", "closedate")
HUNDRED = Decimal(100)


# ----------------------------------------------------------------------------- owners


def primary_team(owner: Obj) -> Mapping[str, Any] | None:
    teams = [team for team in owner.get("teams") or [] if isinstance(team, Mapping)]
    return next((team for team in teams if team.get("primary")), teams[0] if teams else None)


def resolve_managers(
    owners: Sequence[Obj],
    team_managers: Mapping[str, str],
    owner_managers: Mapping[str, str],
) -> dict[str, str | None]:
    """Each owner's manager: the configured one, else the manager of the first of its teams
    (primary first) that has one other than the owner. Ids or emails, team ids or names."""
    by_key: dict[str, str] = {}
    teams: dict[str, str] = {}
    for owner in owners:
        owner_id = str(owner["id"])
        by_key[owner_id] = owner_id
        if owner.get("email"):
            by_key[str(owner["email"]).lower()] = owner_id
        for team in owner.get("teams") or []:
            teams[str(team["id"])] = str(team["id"])
            if team.get("name"):
                teams[str(team["name"]).lower()] = str(team["id"])
    team_manager = _resolved(team_managers, teams, by_key, "team")
    explicit = _resolved(owner_managers, by_key, by_key, "owner")
    return {str(owner["id"]): _manager_of(owner, explicit, team_manager) for owner in owners}


def _resolved(
    configured: Mapping[str, str], keys: Mapping[str, str], owners: Mapping[str, str], what: str
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for key, manager in configured.items():
        target, manager_id = keys.get(key.lower()), owners.get(manager.lower())
        if target is None or manager_id is None:
            log.warning("manager mapping %s %r -> %r names no known owner: ignored", what, key,
                        manager)  # fmt: skip
            continue
        resolved[target] = manager_id
    return resolved


def _manager_of(
    owner: Obj, explicit: Mapping[str, str], team_manager: Mapping[str, str]
) -> str | None:
    owner_id = str(owner["id"])
    if owner_id in explicit:
        return explicit[owner_id]
    teams = [team for team in owner.get("teams") or [] if isinstance(team, Mapping)]
    teams.sort(key=lambda team: not team.get("primary"))  # stable: primary first
    for team in teams:
        manager = team_manager.get(str(team.get("id")))
        if manager is not None and manager != owner_id:
            return manager
    return None


def map_owner(owner: Obj, manager_crm_id: str | None, *, archived: bool) -> Rep | None:
    if owner.get("type", "PERSON") != "PERSON":
        return None
    name = " ".join(str(owner.get(k) or "") for k in ("firstName", "lastName")).strip()
    created = parse_datetime(owner.get("createdAt"))
    team = primary_team(owner)
    return Rep(
        crm_id=str(owner["id"]),
        name=name or str(owner.get("email") or owner["id"]),
        email=text(owner.get("email")),
        manager_crm_id=manager_crm_id,
        team=text(team.get("name")) if team else None,
        is_active=not (archived or owner.get("archived")),
        started_on=created.date() if created else None,
    )


# ----------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class StageInfo:
    category: StageCategory
    probability: Decimal | None  # percent


def stage_info(metadata: Mapping[str, Any]) -> StageInfo:
    """From a stage's metadata (strings: ``isClosed`` "true", ``probability`` "0.2")."""
    closed = str(metadata.get("isClosed", "")).lower() == "true"
    probability = to_decimal(metadata.get("probability"))
    if not closed:
        category = StageCategory.OPEN
    else:
        won = probability is not None and probability >= 1
        category = StageCategory.WON if won else StageCategory.LOST
    return StageInfo(category, None if probability is None else probability * HUNDRED)


StageMap = Mapping[tuple[str, str], StageInfo]


def stage_map(pipelines: Iterable[Obj]) -> dict[tuple[str, str], StageInfo]:
    """Stage info by (pipeline id, stage id), and by ("", stage id) across pipelines."""
    stages: dict[tuple[str, str], StageInfo] = {}
    for pipeline in pipelines:
        for stage in pipeline.get("stages") or []:
            info = stage_info(stage.get("metadata") or {})
            stages[(str(pipeline["id"]), str(stage["id"]))] = info
            stages.setdefault(("", str(stage["id"])), info)
    return stages


def _stage(stages: StageMap, pipeline: str | None, stage: str | None) -> StageInfo | None:
    if not stage:
        return None
    return stages.get((pipeline or "default", stage)) or stages.get(("", stage))


# ----------------------------------------------------------------------------- deals


def map_deal(
    obj: Obj, stages: StageMap, qualification: Mapping[str, str]
) -> tuple[Opportunity, list[OpportunityChange | Rejected]]:
    """The deal and, when its history was read, its changes (a change it cannot read is
    rejected alone: history keeps a bad value for good, even once the deal is fixed)."""
    props = props_of(obj)
    deal_id, pipeline = str(obj["id"]), text(props.get("pipeline"))
    info = _stage(stages, pipeline, text(props.get("dealstage"))) or _own_stage(props)
    history = obj.get("propertiesWithHistory") or {}
    opportunity = Opportunity(
        crm_id=deal_id,
        name=str(props.get("dealname") or ""),
        stage=str(props.get("dealstage") or ""),
        stage_category=info.category,
        owner_crm_id=text(props.get("hubspot_owner_id")),
        amount=to_decimal(props.get("amount")),
        currency=text(props.get("deal_currency_code")),
        pipeline=pipeline,
        probability=info.probability,
        close_date=parse_date(props.get("closedate")),
        created_at=parse_datetime(props.get("createdate") or obj.get("createdAt")),
        closed_at=_closed_at(info, history, props),
        next_step=text(props.get("hs_next_step")),
        qualification=_qualification(props, qualification),
        modified_at=modified_at(obj),
    )
    return opportunity, deal_changes(deal_id, pipeline, history, stages)


def _own_stage(props: Mapping[str, Any]) -> StageInfo:
    """The deal's calculated flags, for a stage the pipelines do not list."""
    closed = str(props.get("hs_is_closed", "")).lower() == "true"
    won = str(props.get("hs_is_closed_won", "")).lower() == "true"
    category = (StageCategory.WON if won else StageCategory.LOST) if closed else StageCategory.OPEN
    probability = to_decimal(props.get("hs_deal_stage_probability"))
    return StageInfo(category, None if probability is None else probability * HUNDRED)


def _closed_at(
    info: StageInfo, history: Mapping[str, Any], props: Mapping[str, Any]
) -> datetime | None:
    if info.category is StageCategory.OPEN:
        return None
    entries = _entries(history.get("dealstage"))
    if entries:
        return max(moment for moment, _ in entries)
    return parse_datetime(props.get("hs_lastmodifieddate"))


def _qualification(props: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """Configured properties present on the deal; "true"/"false" as booleans."""
    values: dict[str, Any] = {}
    for name, prop in fields.items():
        if prop in props and props[prop] not in (None, ""):
            raw = props[prop]
            lowered = str(raw).lower()
            values[name] = lowered == "true" if lowered in ("true", "false") else raw
    return values


def _entries(raw: Any) -> list[tuple[datetime, str | None]]:
    """History entries as (moment, value), oldest first; an empty value means cleared."""
    entries: list[tuple[datetime, str | None]] = []
    for entry in raw or []:
        moment = parse_datetime(entry.get("timestamp")) if isinstance(entry, Mapping) else None
        if moment is not None:
            entries.append((moment, text(entry.get("value"))))
    # HubSpot lists newest first; reversing keeps same-moment entries in write order.
    entries.reverse()
    entries.sort(key=lambda entry: entry[0])
    return entries


def deal_changes(
    deal_id: str, pipeline: str | None, history: Mapping[str, Any], stages: StageMap
) -> list[OpportunityChange | Rejected]:
    """One snapshot of stage, amount and close date per moment any of them changed."""
    timelines = {name: _entries(history.get(name)) for name in HISTORY_PROPERTIES}
    moments = sorted({moment for entries in timelines.values() for moment, _ in entries})
    current: dict[str, str | None] = dict.fromkeys(HISTORY_PROPERTIES)
    positions = dict.fromkeys(HISTORY_PROPERTIES, 0)
    changes: list[OpportunityChange | Rejected] = []
    for moment in moments:
        for name, entries in timelines.items():
            while positions[name] < len(entries) and entries[positions[name]][0] <= moment:
                current[name] = entries[positions[name]][1]
                positions[name] += 1
        crm_id = f"{deal_id}:{int(moment.timestamp() * 1000)}"
        try:
            changes.append(_change(crm_id, deal_id, moment, current, stages, pipeline=pipeline))
        except MAPPING_ERRORS as exc:
            rejected = rejection(Entity.OPPORTUNITY_CHANGE, crm_id, exc, reread_id=deal_id)
            changes.append(rejected)
    return changes


def _change(
    crm_id: str,
    deal_id: str,
    moment: datetime,
    current: Mapping[str, str | None],
    stages: StageMap,
    *,
    pipeline: str | None,
) -> OpportunityChange:
    info = _stage(stages, pipeline, current["dealstage"])
    return OpportunityChange(
        crm_id=crm_id,
        opportunity_crm_id=deal_id,
        changed_at=moment,
        stage=current["dealstage"],
        stage_category=info.category if info else None,
        amount=to_decimal(current["amount"]),
        close_date=parse_date(current["closedate"]),
        probability=info.probability if info else None,
        modified_at=moment,
    )


DEAL_PROPERTIES = (
    "dealname", "dealstage", "pipeline", "amount", "deal_currency_code", "closedate",
    "createdate", "hubspot_owner_id", "hs_next_step", "hs_lastmodifieddate", "hs_is_closed",
    "hs_is_closed_won", "hs_deal_stage_probability",
)  # fmt: skip
