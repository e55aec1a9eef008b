"""JSON renderings of portal records, shaped like the v3/v4 API responses.

Shapes were checked against the OpenAPI specs in HubSpot/HubSpot-public-api-spec-collection
(``SimplePublicObjectWithAssociations``, ``ValueWithTimestamp``, ``PublicOwner``,
``Pipeline``/``PipelineStage``) and the fields hubspot-api-client 12 requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.hubspot.imports import IMPORT_SOURCE
from sandbox.hubspot.model import (
    CrmObject,
    Owner,
    Pipeline,
    PipelineStage,
    read_value,
    read_values,
)
from sandbox.hubspot.properties import (
    ASSOCIATION_TYPES,
    ObjectType,
    association_label,
    object_type,
)
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import iso

_CALCULATED = "CALCULATED"


def property_names(kind: ObjectType, requested: Sequence[str] | None) -> list[str]:
    """What ``properties`` a read returns: unknown names are silently ignored."""
    if not requested:
        return list(kind.defaults)
    names = dict.fromkeys((*kind.always, *requested))
    return sorted(name for name in names if name in kind.properties)


def render_object(
    state: HubSpotState,
    obj: CrmObject,
    names: Sequence[str],
    *,
    history: Sequence[str] = (),
    associations: Sequence[str] = (),
    props: Mapping[str, str | None] | None = None,
    updated_ms: int | None = None,
) -> dict[str, Any]:
    """One object; ``props`` and ``updated_ms`` override the live values and modification
    time (what a lagging index shows: the old values with their old hs_lastmodifieddate)."""
    values = obj.props if props is None else props
    properties = read_values(obj, names, values, state.stages)
    if updated_ms is not None and "hs_lastmodifieddate" in properties:
        properties["hs_lastmodifieddate"] = iso(updated_ms)
    body: dict[str, Any] = {
        "id": str(obj.id),
        "properties": properties,
        "createdAt": iso(obj.created_ms),
        "updatedAt": iso(obj.updated_ms if updated_ms is None else updated_ms),
        "archived": obj.archived_ms is not None,
    }
    if obj.archived_ms is not None:
        body["archivedAt"] = iso(obj.archived_ms)
    kind = object_type(obj.type)
    if history and kind is not None:
        known = [name for name in dict.fromkeys(history) if name in kind.properties]
        body["propertiesWithHistory"] = {name: _history(state, obj, name) for name in known}
    linked = _associations(state, obj, associations)
    if linked:
        body["associations"] = linked
    return body


def _history(state: HubSpotState, obj: CrmObject, name: str) -> list[dict[str, Any]]:
    stored = obj.history.get(name) if obj.history else None
    if stored is None:
        value = read_value(obj, name, obj.props, state.stages)
        if value is None:
            return []
        source = IMPORT_SOURCE if name in obj.props else _CALCULATED
        moment = obj.created_ms if name in obj.props else obj.updated_ms
        stored = [(value, moment, source, None)]
    return [
        {
            "value": value if value is not None else "",
            "timestamp": iso(moment),
            "sourceType": source,
            **({"sourceId": source_id} if source_id else {}),
        }
        for value, moment, source, source_id in stored
    ]


def _associations(state: HubSpotState, obj: CrmObject, requested: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in requested:
        kind = object_type(name) or object_type(f"{name}s")
        if kind is None or (obj.type, kind.name) not in ASSOCIATION_TYPES:
            continue  # unknown association types are ignored, as documented
        ids = live_associations(state, obj, kind.name)
        if ids:
            label = association_label(obj.type, kind.name)
            result[kind.name] = {"results": [{"id": str(i), "type": label} for i in ids]}
    return result


def live_associations(state: HubSpotState, obj: CrmObject, to_type: str) -> list[int]:
    """Associated ids of ``to_type``, without archived records."""
    ids = obj.assoc.get(to_type, {}) if obj.assoc else {}
    objects = state.objects[to_type]
    return [i for i in ids if (target := objects.get(i)) and target.archived_ms is None]


def render_owner(state: HubSpotState, owner: Owner) -> dict[str, Any]:
    teams = [
        {
            "id": team_id,
            "name": state.teams[team_id].name,
            "primary": team_id == owner.primary_team_id,
        }
        for team_id in owner.team_ids
    ]
    return {
        "id": owner.id,
        "email": owner.email,
        "type": "PERSON",
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "createdAt": iso(owner.created_ms),
        "updatedAt": iso(owner.updated_ms),
        "archived": owner.archived,
        "teams": teams,
    }


def render_stage(stage: PipelineStage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "label": stage.label,
        "displayOrder": stage.display_order,
        # Pipeline stage metadata values are strings in the API.
        "metadata": {
            "isClosed": str(stage.is_closed).lower(),
            "probability": repr(float(stage.probability)),
        },
        "createdAt": iso(0),
        "updatedAt": iso(0),
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def render_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "label": pipeline.label,
        "displayOrder": pipeline.display_order,
        "stages": [render_stage(stage) for stage in pipeline.stages],
        "createdAt": iso(0),
        "updatedAt": iso(0),
        "archived": False,
    }
