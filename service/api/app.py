"""The FastAPI application: routers, problem details, the body cap, the store.

``create_app(store, settings)`` builds it around a store the caller owns (the CLI's ``api``
command, the tests); nothing is global, so two apps on two stores live side by side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, Response

import service
from service.api import problems
from service.api.problems import ApiProblem
from service.api.routers import (
    backtests,
    connections,
    findings,
    health,
    keys,
    metrics,
    quotas,
    reps,
    rule_actions,
    rules,
    webhooks,
)
from service.api.strict import known_query_only
from service.settings import Settings
from service.store import Store

#: Request bodies larger than this are refused (413) before they are read.
MAX_BODY_BYTES = 64 * 1024


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The app around ``store``; ``settings`` are what endpoints that reach out (a sync,
    a webhook secret) need. Without them those endpoints answer 503."""
    app = FastAPI(
        dependencies=[Depends(known_query_only)],
        title="driftcoach",
        version=service.__version__,
        summary="Leading-indicator coaching for sales managers: rules, findings, webhooks.",
        description=(
            "Every endpoint but `/healthz` and `/readyz` takes an API key as "
            "`Authorization: Bearer dc_...` (`driftcoach keys create` makes the first). "
            "Errors are RFC 9457 problem details naming each invalid field. Lists are "
            "paged by cursor: pass `next_cursor` back as `cursor`."
        ),
    )
    app.state.store = store
    app.state.settings = settings
    problems.install(app)
    app.middleware("http")(_capped_body)
    routers = (health, rules, metrics, reps, findings, quotas, connections, webhooks, backtests,
               rule_actions)  # fmt: skip
    for module in (*routers, keys):
        app.include_router(module.router)
    return app


async def _capped_body(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Refuse a body over :data:`MAX_BODY_BYTES` by its declared length; a body sent
    without one (chunked) is read up to the cap and refused past it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large()
    if declared is None and request.method in ("POST", "PUT", "PATCH"):
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _too_large()
        request._body = body
    return await call_next(request)


def _too_large() -> Response:
    detail = f"the body is larger than {MAX_BODY_BYTES // 1024} KiB"
    return problems.response(ApiProblem(413, "too-large", "Body too large", detail))
