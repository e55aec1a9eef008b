"""Parsing of request parameters and bodies shared by the object routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request
from sandbox.hubspot.errors import HubSpotError
from sandbox.hubspot.model import CrmObject
from sandbox.hubspot.properties import ASSOCIATION_BY_ID, ObjectType

if TYPE_CHECKING:
    from sandbox.hubspot.state import HubSpotState

BATCH_LIMIT = 100


def int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise HubSpotError(400, f"Unable to parse '{name}': {raw!r} is not an integer") from None


def bool_arg(request: Request, name: str) -> bool:
    # The Python client sends booleans as "True"/"False".
    return (request.arg(name) or "").lower() == "true"


def body_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HubSpotError(400, "Invalid input JSON: expected an object")
    return body


def batch_inputs(body: dict[str, Any], limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
    """The ``inputs`` of a batch call; more than ``limit`` is a 400, as in HubSpot."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise HubSpotError(400, "Invalid input JSON: 'inputs' must be a list of objects")
    if len(inputs) > limit:
        raise HubSpotError(
            400,
            f"Batch input must contain at most {limit} inputs; got {len(inputs)}.",
            "VALIDATION_ERROR",
            extra={"context": {"inputs": [str(len(inputs))]}},
        )
    return inputs


def name_list(raw: Any) -> list[str]:
    """A body's list of property names; absent means "none given"."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise HubSpotError(400, "Invalid input JSON: expected a list of property names")
    return [str(item) for item in raw]


def find(
    state: HubSpotState,
    kind: ObjectType,
    key: str,
    id_property: str | None,
    *,
    archived: bool = False,
) -> CrmObject | None:
    """An object by id, or by a unique property value when ``idProperty`` is given."""
    if id_property and id_property != "hs_object_id":
        if id_property not in kind.properties:
            raise HubSpotError(400, f"Property {id_property!r} does not exist on {kind.name}")
        matches = (
            obj for obj in state.objects[kind.name].values() if obj.props.get(id_property) == key
        )
        obj = next(matches, None)
    else:
        obj = state.get(kind.name, key)
    if obj is None or (obj.archived_ms is not None) != archived:
        return None
    return obj


def association_targets(state: HubSpotState, kind: ObjectType, raw: Any) -> list[CrmObject]:
    """Objects named by inline ``associations`` of a create, checked like HubSpot does.

    The target's type follows from ``associationTypeId`` (216: task to deal, ...).
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise HubSpotError(400, "Invalid input JSON: 'associations' must be a list")
    targets: list[CrmObject] = []
    for association in raw:
        to_id = str(((association or {}).get("to") or {}).get("id", ""))
        for spec in (association or {}).get("types") or [{}]:
            to_type = _target_type(kind, spec)
            target = state.get(to_type, to_id)
            if target is None or target.archived_ms is not None:
                raise HubSpotError(
                    400,
                    f"One or more associations are invalid: {to_type} {to_id} does not exist",
                    "VALIDATION_ERROR",
                    extra={"context": {"ids": [to_id]}},
                )
            targets.append(target)
    return targets


def _target_type(kind: ObjectType, spec: Any) -> str:
    category = (spec or {}).get("associationCategory")
    type_id = (spec or {}).get("associationTypeId")
    pair = ASSOCIATION_BY_ID.get(type_id) if isinstance(type_id, int) else None
    if category != "HUBSPOT_DEFINED" or pair is None or pair[0] != kind.name:
        raise HubSpotError(
            400,
            f"invalid association type {category}/{type_id} for {kind.name}",
            "VALIDATION_ERROR",
        )
    return pair[1]
