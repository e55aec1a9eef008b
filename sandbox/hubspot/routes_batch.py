"""``/crm/v3/objects/{objectType}/batch/*``: read, create, update and archive.

At most 100 inputs per call, 50 for a read with ``propertiesWithHistory`` (more is a
400). Partial failures answer 207 with ``numErrors``/``errors``: ids that do not exist
on read and update, inputs whose inline associations point nowhere on create. Invalid
property values fail the whole batch with a 400, so nothing is half-written. Batch
create answers 201, the others 200.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, Router
from sandbox.hubspot import writes
from sandbox.hubspot.auth import AccessToken
from sandbox.hubspot.errors import HubSpotError, standard_error
from sandbox.hubspot.inputs import (
    association_targets,
    batch_inputs,
    body_object,
    bool_arg,
    find,
    name_list,
)
from sandbox.hubspot.model import CrmObject
from sandbox.hubspot.properties import ObjectType
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import iso
from sandbox.hubspot.views import property_names, render_object

if TYPE_CHECKING:
    from sandbox.hubspot.gate import Gate

HISTORY_BATCH_LIMIT = 50


def add_routes(
    router: Router, state: HubSpotState, gate: Gate, kind: ObjectType, path: str
) -> None:
    handlers = BatchRoutes(state, kind)
    name = f"/crm/v3/objects/{kind.name}/batch"
    router.add("POST", f"{path}/batch/read", f"{name}/read", gate(handlers.read))
    router.add("POST", f"{path}/batch/create", f"{name}/create", gate(handlers.create))
    router.add("POST", f"{path}/batch/update", f"{name}/update", gate(handlers.update))
    router.add("POST", f"{path}/batch/archive", f"{name}/archive", gate(handlers.archive))


class BatchRoutes:
    def __init__(self, state: HubSpotState, kind: ObjectType) -> None:
        self.state, self.kind = state, kind

    def _missing(self, ids: Sequence[str]) -> dict[str, Any]:
        label = self.kind.singular.upper()
        message = (
            f"Could not get some {label} objects, they may be deleted or not exist. "
            "Check that ids are valid."
        )
        return standard_error("OBJECT_NOT_FOUND", message, {"ids": ids})

    def _answer(
        self, started: int, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int
    ) -> Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(self.state.now_ms()),
        }
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        return Response.json(207 if errors else ok, body)

    def read(self, request: Request, _: AccessToken) -> Response:
        body = body_object(request)
        inputs = batch_inputs(body)
        names = property_names(self.kind, name_list(body.get("properties")))
        history = name_list(body.get("propertiesWithHistory"))
        if history and len(inputs) > HISTORY_BATCH_LIMIT:
            # HubSpot's own words (quoted in PipedreamHQ/pipedream#8462).
            raise HubSpotError(
                400,
                "The maximum number of inputs supported in a batch request for property"
                f" histories is {HISTORY_BATCH_LIMIT}. Please reduce the number of items and"
                " try again",
                "VALIDATION_ERROR",
            )
        archived, id_property = bool_arg(request, "archived"), body.get("idProperty")
        with self.state.lock:
            started, results, missing = self.state.now_ms(), [], []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = find(self.state, self.kind, key, id_property, archived=archived)
                if obj is None:
                    missing.append(key)
                else:
                    results.append(render_object(self.state, obj, names, history=history))
            errors = [self._missing(missing)] if missing else []
            return self._answer(started, results, errors, 200)

    def create(self, request: Request, token: AccessToken) -> Response:
        inputs = batch_inputs(body_object(request))
        with self.state.lock:
            started = self.state.now_ms()
            values = [
                writes.validate(self.state, self.kind, item.get("properties"), None)
                for item in inputs
            ]
            results, errors = [], []
            for item, checked in zip(inputs, values, strict=True):
                try:
                    targets = association_targets(self.state, self.kind, item.get("associations"))
                except HubSpotError as exc:
                    errors.append(
                        standard_error(str(exc.code), exc.message, exc.extra.get("context"))
                    )
                    continue
                obj = writes.create(self.state, self.kind, checked, targets, str(token.app_id))
                results.append(self._written(obj))
            return self._answer(started, results, errors, 201)

    def update(self, request: Request, token: AccessToken) -> Response:
        body = body_object(request)
        inputs = batch_inputs(body)
        keys = [str(item.get("id", "")) for item in inputs]
        duplicates = sorted(key for key, n in Counter(keys).items() if n > 1)
        if duplicates:
            raise HubSpotError(
                400, f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique"
            )
        with self.state.lock:
            started, pending, missing = self.state.now_ms(), [], []
            for item, key in zip(inputs, keys, strict=True):
                obj = find(self.state, self.kind, key, item.get("idProperty"))
                if obj is None:
                    missing.append(key)
                else:
                    values = writes.validate(self.state, self.kind, item.get("properties"), obj)
                    pending.append((obj, values))
            for obj, values in pending:
                writes.update(self.state, obj, values, str(token.app_id))
            results = [self._written(obj) for obj, _ in pending]
            errors = [self._missing(missing)] if missing else []
            return self._answer(started, results, errors, 200)

    def archive(self, request: Request, _: AccessToken) -> Response:
        inputs = batch_inputs(body_object(request))
        with self.state.lock:
            for item in inputs:
                obj = self.state.get(self.kind.name, str(item.get("id", "")))
                if obj is not None:
                    writes.archive(self.state, obj)
        return Response(204)

    def _written(self, obj: CrmObject) -> dict[str, Any]:
        return render_object(self.state, obj, sorted({*obj.props, *self.kind.always}))
