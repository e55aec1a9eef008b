"""Owners, deal pipelines and the OAuth token endpoint.

Owners: ``/crm/v3/owners/`` (limit <= 500, default 100; ``email``; ``archived``) and
``/crm/v3/owners/{ownerId}`` (``idProperty`` ``id`` or ``userId``). Pipelines:
``/crm/v3/pipelines/deals[/{pipelineId}[/stages[/{stageId}]]]``, stage metadata as strings.
Token endpoint: ``POST /oauth/v1/token`` (form-encoded), not rate limited here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sandbox.http import Request, Response, Router
from sandbox.hubspot import routes_associations
from sandbox.hubspot.auth import AccessToken, OAuthError
from sandbox.hubspot.errors import HubSpotError
from sandbox.hubspot.inputs import bool_arg, int_arg
from sandbox.hubspot.model import Owner, Pipeline
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.views import render_owner, render_pipeline, render_stage

if TYPE_CHECKING:
    from sandbox.hubspot.gate import Gate

OWNERS_LIMIT = 500


def add_routes(router: Router, state: HubSpotState, gate: Gate) -> None:
    owners, pipelines = OwnerRoutes(state), PipelineRoutes(state)
    router.add("GET", "/crm/v3/owners", "/crm/v3/owners", gate(owners.list_page))
    router.add("GET", "/crm/v3/owners/{ownerId}", "/crm/v3/owners/{ownerId}", gate(owners.read))
    base = "/crm/v3/pipelines/{objectType}"
    router.add("GET", base, base, gate(pipelines.list_page))
    router.add("GET", f"{base}/{{pipelineId}}", f"{base}/{{pipelineId}}", gate(pipelines.read))
    stages = f"{base}/{{pipelineId}}/stages"
    router.add("GET", stages, stages, gate(pipelines.stages))
    router.add("GET", f"{stages}/{{stageId}}", f"{stages}/{{stageId}}", gate(pipelines.stage))
    routes_associations.add_routes(router, state, gate)

    def token(request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        try:
            return Response.json(200, state.credentials.exchange(form, state.now_ms()))
        except OAuthError as exc:
            return Response.json(400, exc.body)

    router.add("POST", "/oauth/v1/token", "/oauth/v1/token", token)


class OwnerRoutes:
    def __init__(self, state: HubSpotState) -> None:
        self.state = state

    def list_page(self, request: Request, _: AccessToken) -> Response:
        limit = int_arg(request, "limit", 100)
        if not 0 < limit <= OWNERS_LIMIT:
            raise HubSpotError(400, f"limit must be between 1 and {OWNERS_LIMIT}; got {limit}")
        after, email = int_arg(request, "after", 0), request.arg("email")
        archived = bool_arg(request, "archived")
        with self.state.lock:
            owners = [
                owner
                for owner in self.state.owners.values()
                if int(owner.id) >= after
                and owner.archived == archived
                and (email is None or owner.email.lower() == email.lower())
            ]
            body: dict[str, Any] = {
                "results": [render_owner(self.state, o) for o in owners[:limit]]
            }
        if len(owners) > limit:
            body["paging"] = {"next": {"after": owners[limit].id}}
        return Response.json(200, body)

    def read(self, request: Request, _: AccessToken) -> Response:
        key, id_property = request.params["ownerId"], request.arg("idProperty") or "id"
        if id_property not in ("id", "userId"):
            raise HubSpotError(400, f"idProperty must be 'id' or 'userId'; got {id_property!r}")
        archived = bool_arg(request, "archived")
        with self.state.lock:
            owner = next(
                (o for o in self.state.owners.values() if _matches(o, id_property, key)), None
            )
            if owner is None or owner.archived != archived:
                raise HubSpotError(404, f"No owner found with {id_property} {key}")
            return Response.json(200, render_owner(self.state, owner))


def _matches(owner: Owner, id_property: str, key: str) -> bool:
    return (owner.id if id_property == "id" else str(owner.user_id)) == key


class PipelineRoutes:
    def __init__(self, state: HubSpotState) -> None:
        self.state = state

    def list_page(self, request: Request, _: AccessToken) -> Response:
        _deals_only(request)
        with self.state.lock:
            results = [render_pipeline(p) for p in self.state.pipelines]
        return Response.json(200, {"results": results})

    def read(self, request: Request, _: AccessToken) -> Response:
        return Response.json(200, render_pipeline(self._pipeline(request)))

    def stages(self, request: Request, _: AccessToken) -> Response:
        stages = self._pipeline(request).stages
        return Response.json(200, {"results": [render_stage(s) for s in stages]})

    def stage(self, request: Request, _: AccessToken) -> Response:
        pipeline, stage_id = self._pipeline(request), request.params["stageId"]
        stage = next((s for s in pipeline.stages if s.id == stage_id), None)
        if stage is None:
            raise HubSpotError(404, f"Unable to find stage {stage_id} in pipeline {pipeline.id}")
        return Response.json(200, render_stage(stage))

    def _pipeline(self, request: Request) -> Pipeline:
        _deals_only(request)
        pipeline_id = request.params["pipelineId"]
        with self.state.lock:
            pipeline = self.state.pipeline(pipeline_id)
        if pipeline is None:
            raise HubSpotError(404, f"Unable to find pipeline {pipeline_id}")
        return pipeline


def _deals_only(request: Request) -> None:
    if request.params["objectType"] not in ("deals", "deal", "0-3"):
        object_type = request.params["objectType"]
        raise HubSpotError(400, f"The sandbox has no pipelines for object type {object_type}")
