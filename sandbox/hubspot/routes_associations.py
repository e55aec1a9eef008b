"""Associations v4 between deals and engagements (HubSpot-defined, unlabelled).

* ``GET /crm/v4/associations/{from}/{to}/labels``: the association types from one object
  type to another, ``{"results": [{"category", "typeId", "label"}]}``; a pair of known
  types with none defined answers an empty list (HubSpot's answer there is unverified).

* ``GET /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}``: paged
  (limit <= 500, default 500; ``after`` is an offset).
* ``POST /crm/v4/associations/{from}/{to}/batch/read``: at most 1000 inputs; objects
  without associations come back as errors in a 207.
* ``PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}`` and
  ``POST /crm/v4/associations/{from}/{to}/batch/associate/default``: default associations.

``toObjectId`` is a number in the v4 responses, as in HubSpot's examples.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, Router
from sandbox.hubspot.auth import AccessToken
from sandbox.hubspot.errors import HubSpotError, standard_error
from sandbox.hubspot.inputs import batch_inputs, body_object, int_arg
from sandbox.hubspot.model import CrmObject
from sandbox.hubspot.properties import ASSOCIATION_TYPES, ObjectType, object_type
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import iso
from sandbox.hubspot.views import live_associations

if TYPE_CHECKING:
    from sandbox.hubspot.gate import Gate

PAGE_LIMIT, BATCH_READ_LIMIT = 500, 1000


def add_routes(router: Router, state: HubSpotState, gate: Gate) -> None:
    routes = AssociationRoutes(state)
    one = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
    router.add("GET", one, one, gate(routes.list_page))
    default = (
        "/crm/v4/objects/{objectType}/{objectId}/associations/default/{toObjectType}/{toObjectId}"
    )
    router.add("PUT", default, default, gate(routes.put_default))
    labels = "/crm/v4/associations/{objectType}/{toObjectType}/labels"
    router.add("GET", labels, labels, gate(routes.labels))
    batch = "/crm/v4/associations/{objectType}/{toObjectType}/batch"
    router.add("POST", f"{batch}/read", f"{batch}/read", gate(routes.batch_read))
    associate = f"{batch}/associate/default"
    router.add("POST", associate, associate, gate(routes.batch_default))


def _pair(request: Request) -> tuple[ObjectType, ObjectType]:
    names = request.params["objectType"], request.params["toObjectType"]
    kinds = [object_type(name) or object_type(f"{name}s") for name in names]
    from_kind, to_kind = kinds
    if (
        from_kind is None
        or to_kind is None
        or (from_kind.name, to_kind.name) not in ASSOCIATION_TYPES
    ):
        raise HubSpotError(400, f"No association types exist between {names[0]} and {names[1]}")
    return from_kind, to_kind


@functools.cache
def _association_types(type_id: int) -> list[dict[str, Any]]:
    """One HUBSPOT_DEFINED type, shared by every result that has it (never mutated)."""
    return [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]


class AssociationRoutes:
    def __init__(self, state: HubSpotState) -> None:
        self.state = state

    def _page(
        self, obj: CrmObject | None, to_kind: ObjectType, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        if obj is None:
            return [], None
        ids = live_associations(self.state, obj, to_kind.name)
        kinds = _association_types(ASSOCIATION_TYPES[(obj.type, to_kind.name)])
        page = [{"toObjectId": i, "associationTypes": kinds} for i in ids[after : after + limit]]
        return page, (after + limit if after + limit < len(ids) else None)

    def labels(self, request: Request, _: AccessToken) -> Response:
        """The association types from one object type to another; none is an empty list."""
        kinds: list[str] = []
        for name in (request.params["objectType"], request.params["toObjectType"]):
            kind = object_type(name) or object_type(f"{name}s")
            if kind is None:
                raise HubSpotError(400, f"Unable to infer object type from: {name}")
            kinds.append(kind.name)
        type_id = ASSOCIATION_TYPES.get((kinds[0], kinds[1]))
        results = [] if type_id is None else _association_types(type_id)
        return Response.json(200, {"results": results})

    def list_page(self, request: Request, _: AccessToken) -> Response:
        from_kind, to_kind = _pair(request)
        limit, after = int_arg(request, "limit", PAGE_LIMIT), int_arg(request, "after", 0)
        if not 0 < limit <= PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be between 1 and {PAGE_LIMIT}; got {limit}")
        with self.state.lock:
            obj = self._live(from_kind, request.params["objectId"])
            results, next_after = self._page(obj, to_kind, after, limit)
        body: dict[str, Any] = {"results": results}
        if next_after is not None:
            body["paging"] = {"next": {"after": str(next_after)}}
        return Response.json(200, body)

    def _live(self, kind: ObjectType, object_id: str) -> CrmObject | None:
        obj = self.state.get(kind.name, object_id)
        return obj if obj is not None and obj.archived_ms is None else None

    def batch_read(self, request: Request, _: AccessToken) -> Response:
        from_kind, to_kind = _pair(request)
        inputs = batch_inputs(body_object(request), BATCH_READ_LIMIT)
        with self.state.lock:
            started, results, errors = self.state.now_ms(), [], []
            for item in inputs:
                key = str(item.get("id", ""))
                after = int(item.get("after") or 0)
                page, next_after = self._page(
                    self._live(from_kind, key), to_kind, after, PAGE_LIMIT
                )
                if not page:
                    errors.append(self._none_found(from_kind, to_kind, key))
                    continue
                result: dict[str, Any] = {"from": {"id": key}, "to": page}
                if next_after is not None:
                    result["paging"] = {"next": {"after": str(next_after)}}
                results.append(result)
            return _batch_answer(started, self.state.now_ms(), results, errors)

    @staticmethod
    def _none_found(from_kind: ObjectType, to_kind: ObjectType, key: str) -> dict[str, Any]:
        message = f"No {to_kind.name} is associated with {from_kind.singular} {key}."
        error = standard_error("OBJECT_NOT_FOUND", message, {"fromObjectId": [key]})
        error["subCategory"] = "crm.associations.NO_ASSOCIATIONS_FOUND"
        return error

    def put_default(self, request: Request, _: AccessToken) -> Response:
        from_kind, to_kind = _pair(request)
        with self.state.lock:
            started = self.state.now_ms()
            pair = self._link(
                from_kind, request.params["objectId"], to_kind, request.params["toObjectId"]
            )
            return _batch_answer(started, self.state.now_ms(), pair, [])

    def batch_default(self, request: Request, _: AccessToken) -> Response:
        from_kind, to_kind = _pair(request)
        inputs = batch_inputs(body_object(request), BATCH_READ_LIMIT)
        with self.state.lock:
            started, results = self.state.now_ms(), list[dict[str, Any]]()
            for item in inputs:
                from_id = str((item.get("from") or {}).get("id", ""))
                to_id = str((item.get("to") or {}).get("id", ""))
                results += self._link(from_kind, from_id, to_kind, to_id)
            return _batch_answer(started, self.state.now_ms(), results, [])

    def _link(
        self, from_kind: ObjectType, from_id: str, to_kind: ObjectType, to_id: str
    ) -> list[dict[str, Any]]:
        one, other = self._live(from_kind, from_id), self._live(to_kind, to_id)
        if one is None or other is None:
            missing = from_id if one is None else to_id
            raise HubSpotError(404, f"Object {missing} does not exist", "OBJECT_NOT_FOUND")
        self.state.link(one, other)
        return [_default_result(one, other), _default_result(other, one)]


def _default_result(one: CrmObject, other: CrmObject) -> dict[str, Any]:
    return {
        "from": {"id": str(one.id)},
        "to": {"id": str(other.id)},
        "associationSpec": {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": ASSOCIATION_TYPES[(one.type, other.type)],
        },
    }


def _batch_answer(
    started: int, completed: int, results: Sequence[dict[str, Any]], errors: list[dict[str, Any]]
) -> Response:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": list(results),
        "startedAt": iso(started),
        "completedAt": iso(completed),
    }
    if errors:
        body |= {"numErrors": len(errors), "errors": errors}
    return Response.json(207 if errors else 200, body)
