"""``/v1/webhook-endpoints`` and ``/v1/webhook-deliveries``: where events go, their
signing secrets, and what became of each delivery (all with ``webhooks:write``).

The same operations as ``driftcoach webhooks``: a URL passes the SSRF guard before it is
saved; a secret (``whsec_...``) is encrypted at rest with
``DRIFTCOACH_WEBHOOK_SECRET_KEY`` and shown once, in the answer that makes or rotates
it, never in a list, a log or an audit entry. Without that key (or the app's settings)
these endpoints answer 503: a secret is never stored in the clear.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.auth import scoped, session
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, page
from service.api.problems import (
    ApiProblem,
    FieldProblem,
    invalid,
    not_found,
    problem_responses,
)
from service.api.settings_views import MAX_ID, Configured, more_problems, unavailable
from service.api.webhook_views import (
    CreatedEndpoint,
    DeliveryView,
    EndpointIn,
    EndpointView,
    RotatedSecret,
    RotateIn,
    audit,
    created_view,
    deliveries_before,
    delivery_view,
    endpoint_or_404,
    endpoint_view,
    endpoints_after,
    id_cursor,
)
from service.outbox.ssrf import UnsafeUrlError
from service.outbox.webhook_endpoints import (
    SecretBox,
    WebhookConfigError,
    add_endpoint,
    enable_endpoint,
    replay_delivery,
    rotate_secret,
)
from service.settings import Settings
from service.store.tables import WebhookEvent
from service.store.tables.base import utcnow
from service.store.tables.webhooks import WebhookDelivery

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Writer = Annotated[Caller, Depends(scoped("webhooks:write"))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
READ = problem_responses(401, 403, 404, 422)
NEEDS_KEY = {**problem_responses(401, 403, 404, 422), **more_problems(503)}


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=CreatedEndpoint,
    responses={**problem_responses(401, 403, 422), **more_problems(503)},
)
def create_endpoint(
    body: EndpointIn, who: Writer, settings: Configured, db: Db, response: Response
) -> CreatedEndpoint:
    """A new endpoint; it receives the events of its types from now on. The answer holds
    its signing secret, **shown this once**: store it where the consumer reads it. A URL
    the SSRF guard refuses (not https, a private or internal address, credentials in it)
    is a 422 naming ``url``."""
    box = _box(settings)
    try:
        made = add_endpoint(
            db, body.url, box, event_types=[t.value for t in dict.fromkeys(body.event_types)],
            description=body.description, policy=settings.webhook_url_policy(), now=utcnow(),
        )  # fmt: skip
    except UnsafeUrlError as exc:
        raise invalid("the URL is refused", [FieldProblem(field="url", message=str(exc))]) from None
    except UnicodeError:  # the resolver cannot encode the name (an empty or long label)
        message = "the host is not a name the resolver can look up"
        raise invalid("the URL is refused", [FieldProblem(field="url", message=message)]) from None
    except WebhookConfigError as exc:
        problem = FieldProblem(field="event_types", message=str(exc))
        raise invalid("the event types are not valid", [problem]) from None
    view = created_view(made.endpoint, made.secret)
    details = {"url": view.url, "description": view.description, "event_types": view.event_types}
    audit(db, who.name, "webhook_endpoint.created", ("webhook_endpoint", view.id), details)
    response.headers["Location"] = f"/v1/webhook-endpoints/{view.id}"
    return view


@router.get(
    "/webhook-endpoints",
    response_model=Page[EndpointView],
    responses=problem_responses(401, 403, 422),
)
def list_endpoints(
    db: Db, _: Writer, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[EndpointView]:
    """Endpoints by id: URL, event types, state (never a secret)."""
    found = endpoints_after(db, id_cursor(cursor), limit + 1)
    return page([endpoint_view(e) for e in found], limit, lambda view: [view.id])


@router.get("/webhook-endpoints/{endpoint_id}", response_model=EndpointView, responses=READ)
def get_endpoint(endpoint_id: Id, db: Db, _: Writer) -> EndpointView:
    return endpoint_view(endpoint_or_404(db, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}:rotate", response_model=RotatedSecret, responses=NEEDS_KEY
)
def rotate_endpoint_secret(
    endpoint_id: Id,
    who: Writer,
    settings: Configured,
    db: Db,
    body: Annotated[RotateIn | None, Body()] = None,
) -> RotatedSecret:
    """A new signing secret, **shown this once**. The previous one keeps signing too for
    ``overlap_hours`` (default 24): each delivery then carries both signatures, so a
    consumer switches secrets without missing a message."""
    box = _box(settings)
    endpoint = endpoint_or_404(db, endpoint_id)
    overlap = timedelta(hours=(body or RotateIn()).overlap_hours)
    secret = rotate_secret(db, endpoint.id, box, now=utcnow(), overlap=overlap)
    until = endpoint.previous_secret_until
    assert until is not None  # noqa: S101 - rotate_secret has just set it
    details = {"overlap_hours": overlap.total_seconds() / 3600, "previous_secret_until": str(until)}
    audit(db, who.name, "webhook_endpoint.secret_rotated", ("webhook_endpoint", endpoint.id),
          details)  # fmt: skip
    return RotatedSecret(endpoint_id=endpoint.id, secret=secret, previous_secret_until=until)


@router.post("/webhook-endpoints/{endpoint_id}:enable", response_model=EndpointView,
             responses=READ)  # fmt: skip
def enable(endpoint_id: Id, who: Writer, db: Db) -> EndpointView:
    """Send to an endpoint disabled by a 410 or five days of failures again (its failure
    clock restarts). What it missed while disabled is still queued, or can be replayed."""
    endpoint = endpoint_or_404(db, endpoint_id)
    before = {"enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason}
    enable_endpoint(db, endpoint.id)
    after = {"enabled": True, "disabled_reason": None}
    if before != after:
        audit(db, who.name, "webhook_endpoint.enabled", ("webhook_endpoint", endpoint.id),
              {"before": before, "after": after})  # fmt: skip
    return endpoint_view(endpoint)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=Page[DeliveryView],
    responses=READ,
)
def list_deliveries(
    endpoint_id: Id, db: Db, _: Writer, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[DeliveryView]:
    """The endpoint's deliveries, newest first: state, attempts, the last status or
    error, and the next try while pending."""
    endpoint = endpoint_or_404(db, endpoint_id)
    found = deliveries_before(db, endpoint.id, id_cursor(cursor), limit + 1)
    return page(found, limit, lambda view: [view.id])


@router.post(
    "/webhook-deliveries/{delivery_id}:replay",
    response_model=DeliveryView,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def replay(delivery_id: Id, who: Writer, db: Db) -> DeliveryView:
    """Queue a failed delivery again from its first attempt; the next ``driftcoach
    deliver`` sends it (once its endpoint is enabled). A delivery still pending or
    already delivered is a 409."""
    row = db.execute(
        select(WebhookDelivery, WebhookEvent.event_id, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one_or_none()
    if row is None:
        raise not_found(f"webhook delivery {delivery_id}")
    delivery, event_id, event_type = row
    before = {"state": delivery.state.value, "attempts": delivery.attempts}
    try:
        replay_delivery(delivery, now=utcnow())
    except WebhookConfigError as exc:
        raise ApiProblem(409, "conflict", "Conflict", str(exc)) from None
    audit(db, who.name, "webhook_delivery.replayed", ("webhook_delivery", delivery.id),
          {"endpoint_id": delivery.endpoint_id, "before": before,
           "after": {"state": delivery.state.value, "attempts": 0}})  # fmt: skip
    return delivery_view(delivery, event_id, event_type)


def _box(settings: Settings) -> SecretBox:
    """The box that seals secrets; 503 without a usable key (the message names the
    setting, never a value)."""
    try:
        return SecretBox(settings.webhook_secret_key)
    except WebhookConfigError as exc:
        raise unavailable(str(exc)) from None
