"""``/crm/v3/objects/{objectType}``: list, read, create, update, archive and search.

Routes are registered per object type (by name and by type id) and named after the
canonical path, so the meter counts ``GET /crm/v3/objects/deals`` and
``POST /crm/v3/objects/tasks/search`` separately.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sandbox.http import Request, Response, Router
from sandbox.hubspot import routes_batch, writes
from sandbox.hubspot.auth import AccessToken
from sandbox.hubspot.errors import HubSpotError
from sandbox.hubspot.inputs import (
    association_targets,
    body_object,
    bool_arg,
    find,
    int_arg,
)
from sandbox.hubspot.model import CrmObject, read_value
from sandbox.hubspot.properties import OBJECT_TYPES, ObjectType
from sandbox.hubspot.search import (
    Accessor,
    Coerce,
    Comparable,
    SearchRequest,
    SearchRequestError,
    SystemRange,
    coercer,
    parse_request,
    run,
)
from sandbox.hubspot.search_memo import RangeMemo
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.views import property_names, render_object

if TYPE_CHECKING:
    from sandbox.hubspot.gate import Gate

LIST_LIMIT, HISTORY_LIMIT = 100, 50
NOT_FOUND = "resource not found"


def add_routes(router: Router, state: HubSpotState, gate: Gate) -> None:
    for kind in OBJECT_TYPES.values():
        handlers = ObjectRoutes(state, kind)
        base = f"/crm/v3/objects/{kind.name}"
        for alias in dict.fromkeys((kind.name, kind.type_id)):
            path = f"/crm/v3/objects/{alias}"
            router.add("GET", path, base, gate(handlers.list_page))
            router.add("POST", path, base, gate(handlers.create))
            router.add(
                "POST", f"{path}/search", f"{base}/search", gate(handlers.search, search=True)
            )
            routes_batch.add_routes(router, state, gate, kind, path)
            item, name = f"{path}/{{objectId}}", f"{base}/{{objectId}}"
            router.add("GET", item, name, gate(handlers.read))
            router.add("PATCH", item, name, gate(handlers.update))
            router.add("DELETE", item, name, gate(handlers.archive))
    router.add(
        "GET", "/crm/v3/objects/{objectType}", "/crm/v3/objects/{objectType}", gate(_unknown)
    )
    router.add(
        "POST",
        "/crm/v3/objects/{objectType}/search",
        "/crm/v3/objects/{objectType}/search",
        gate(_unknown),
    )


def _unknown(request: Request, _: AccessToken) -> Response:
    raise HubSpotError(
        400, f"Unable to infer object type from: {request.params['objectType']}", "VALIDATION_ERROR"
    )


def _next_page(request: Request, after: str) -> dict[str, object]:
    host = request.header("host") or "api.hubapi.com"
    return {"next": {"after": after, "link": f"http://{host}{request.path}?after={after}"}}


class ObjectRoutes:
    def __init__(self, state: HubSpotState, kind: ObjectType) -> None:
        self.state, self.kind = state, kind
        self._accessors = row_accessors(state, kind)
        self._memo = RangeMemo()

    def list_page(self, request: Request, _: AccessToken) -> Response:
        history = request.args("propertiesWithHistory")
        limit = int_arg(request, "limit", 10)
        # https://github.com/HubSpot/hubspot-api-python/issues/143: with property history a
        # page holds at most 50 objects, and asking for more is a 400.
        most = HISTORY_LIMIT if history else LIST_LIMIT
        if not 0 < limit <= most:
            raise HubSpotError(400, f"limit must be between 1 and {most}; got {limit}")
        after = int_arg(request, "after", 0)
        names = property_names(self.kind, request.args("properties"))
        associations = request.args("associations")
        with self.state.lock:
            found, next_id = self.state.page(
                self.kind.name, after, limit, archived=bool_arg(request, "archived")
            )
            results = [
                render_object(self.state, obj, names, history=history, associations=associations)
                for obj in found
            ]
        body: dict[str, object] = {"results": results}
        if next_id is not None:
            body["paging"] = _next_page(request, str(next_id))
        return Response.json(200, body)

    def read(self, request: Request, _: AccessToken) -> Response:
        with self.state.lock:
            obj = self._find(request, archived=bool_arg(request, "archived"))
            body = render_object(
                self.state,
                obj,
                property_names(self.kind, request.args("properties")),
                history=request.args("propertiesWithHistory"),
                associations=request.args("associations"),
            )
        return Response.json(200, body)

    def _find(self, request: Request, *, archived: bool = False) -> CrmObject:
        key = request.params["objectId"]
        obj = find(self.state, self.kind, key, request.arg("idProperty"), archived=archived)
        if obj is None:
            raise HubSpotError(404, NOT_FOUND, "OBJECT_NOT_FOUND", extra={"context": {"id": [key]}})
        return obj

    def create(self, request: Request, token: AccessToken) -> Response:
        body = body_object(request)
        with self.state.lock:
            values = writes.validate(self.state, self.kind, body.get("properties"), None)
            targets = association_targets(self.state, self.kind, body.get("associations"))
            obj = writes.create(self.state, self.kind, values, targets, str(token.app_id))
            return Response.json(201, self.written(obj))

    def update(self, request: Request, token: AccessToken) -> Response:
        body = body_object(request)
        with self.state.lock:
            obj = self._find(request)
            values = writes.validate(self.state, self.kind, body.get("properties"), obj)
            writes.update(self.state, obj, values, str(token.app_id))
            return Response.json(200, self.written(obj))

    def written(self, obj: CrmObject) -> dict[str, object]:
        """What create and update answer: every set property plus the system ones."""
        names = sorted({*obj.props, *self.kind.always})
        return render_object(self.state, obj, names)

    def archive(self, request: Request, _: AccessToken) -> Response:
        # Archiving is idempotent: HubSpot answers 204 for ids that do not exist.
        with self.state.lock:
            obj = self.state.get(self.kind.name, request.params["objectId"])
            if obj is not None:
                writes.archive(self.state, obj)
        return Response(204)

    def search(self, request: Request, _: AccessToken) -> Response:
        try:
            query = parse_request(request.json(), self.kind, self._accessors)
        except SearchRequestError as exc:
            raise HubSpotError(400, str(exc), "VALIDATION_ERROR") from None
        names = property_names(self.kind, query.properties)
        with self.state.lock:
            now = self.state.now_ms()
            if query.system_range is not None:
                total, ids = self._range_page(query, query.system_range, now)
            else:
                total, ids = run(query, self._rows(now, query.min_id), ids_are_objects=True)
            objects = self.state.objects[self.kind.name]
            results = []
            for obj in (objects[i] for i in ids):
                props, updated_ms = self._indexed(obj, now) or (None, None)
                results.append(
                    render_object(self.state, obj, names, props=props, updated_ms=updated_ms)
                )
        body: dict[str, object] = {"total": total, "results": results}
        if query.after + query.limit < total:
            body["paging"] = _next_page(request, str(query.after + query.limit))
        return Response.json(200, body)

    @staticmethod
    def _indexed(obj: CrmObject, now: int) -> tuple[Mapping[str, str | None], int] | None:
        """What the search index holds for ``obj`` now (values and modification time);
        None when it is not searchable.

        A lagging index keeps serving the pre-write version, hs_lastmodifieddate included,
        until it catches up: filters and results both see the old version.
        """
        view = obj.indexed
        if view is not None and now < view.fresh_from_ms:
            if view.archived or view.props is None:
                return None
            return view.props, view.updated_ms
        return (obj.props, obj.updated_ms) if obj.archived_ms is None else None

    def _rows(self, now: int, min_id: int | None = None) -> Iterator[tuple[int, Row]]:
        """Every searchable object in id order, from ``min_id`` on when the filters bound it."""
        ids, objects = self.state.ids[self.kind.name], self.state.objects[self.kind.name]
        start = 0 if min_id is None else bisect.bisect_left(ids, min_id)
        for position in range(start, len(ids)):
            obj = objects[ids[position]]
            indexed = self._indexed(obj, now)
            if indexed is not None:
                yield obj.id, (obj, *indexed)

    def _range_page(
        self, query: SearchRequest, bounds: SystemRange, now: int
    ) -> tuple[int, list[int]]:
        """``run`` for a search that only bounds the id and the system timestamps, sorted
        by id: the same answer from the window's memo (a sync's windows are all this shape)."""
        name = self.kind.name
        return self._memo.page(
            self.state.ids[name],
            self.state.objects[name],
            bounds,
            now,
            after=query.after,
            limit=query.limit,
        )


# An object, its indexed values and its indexed modification time (epoch millis).
Row = tuple[CrmObject, Mapping[str, str | None], int]


def row_accessors(state: HubSpotState, kind: ObjectType) -> dict[str, Accessor]:
    """Typed readers for search rows; system timestamps skip the ISO round trip."""
    accessors = {name: _stored(name, coercer(p.kind)) for name, p in kind.properties.items()}
    for name in ("hs_is_closed", "hs_is_closed_won", "hs_deal_stage_probability"):
        if name in kind.properties:
            accessors[name] = _computed(state, name, coercer(kind.properties[name].kind))
    accessors["hs_object_id"] = lambda row: float(row[0].id)
    accessors["hs_createdate"] = lambda row: float(row[0].created_ms)
    accessors["hs_lastmodifieddate"] = lambda row: float(row[2])
    if "createdate" in kind.properties:
        stored = accessors["createdate"]
        accessors["createdate"] = lambda row: (
            value if (value := stored(row)) is not None else float(row[0].created_ms)
        )
    return accessors


def _stored(name: str, coerce: Coerce) -> Accessor:
    return lambda row: None if (raw := row[1].get(name)) is None else coerce(raw)


def _computed(state: HubSpotState, name: str, coerce: Coerce) -> Accessor:
    def read(row: Row) -> Comparable | None:
        raw = read_value(row[0], name, row[1], state.stages)
        return None if raw is None else coerce(raw)

    return read
