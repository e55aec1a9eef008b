"""The fake HubSpot HTTP server: authentication, rate limits and HubSpot's error shapes.

Every CRM route runs behind :class:`Gate`: bearer-token check (401 bodies as HubSpot
sends them), the rate-limit budgets (429 with ``policyName``), then the handler; the
``X-HubSpot-RateLimit-*`` headers and the correlation id are added on the way out.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from connectors.sandbox.admin import add_admin_routes
from connectors.sandbox.faults import FaultDecision, FaultInjector, FaultKind
from connectors.sandbox.http import HttpError, Request, Response, Router, SandboxHttpServer
from connectors.sandbox.hubspot import routes_objects, routes_portal
from connectors.sandbox.hubspot.auth import AccessToken
from connectors.sandbox.hubspot.errors import (
    CORRELATION_HEADER,
    HubSpotError,
    error_response,
    new_correlation_id,
    rate_limit_response,
)
from connectors.sandbox.hubspot.ratelimit import HubSpotLimits, RateLimiter
from connectors.sandbox.hubspot.state import HubSpotState
from connectors.sandbox.meter import Meter

CrmHandler = Callable[[Request, AccessToken], Response]


class HubSpotBehaviour:
    """Renders routing errors and injected faults in HubSpot's wire format."""

    def __init__(self, limits: HubSpotLimits) -> None:
        self.limits = limits

    def error_response(self, error: HttpError) -> Response:
        return error_response(error)

    def fault_response(self, decision: FaultDecision) -> Response:
        if decision.kind is FaultKind.THROTTLE:
            budget = str(self.limits.ten_second_budget)
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": budget,
                "X-HubSpot-RateLimit-Remaining": "0",
            }
            if self.limits.send_retry_after:
                headers["Retry-After"] = "1"
            return rate_limit_response("TEN_SECONDLY_ROLLING", headers)
        message = "An internal error occurred. Please try again."
        return error_response(HubSpotError(decision.status or 503, message, "INTERNAL_ERROR"))

    def finish(self, request: Request, response: Response) -> Response:
        response.headers.setdefault(CORRELATION_HEADER, new_correlation_id())
        return response


@dataclass
class Gate:
    """Wraps CRM handlers with authentication and rate limiting."""

    state: HubSpotState
    limiter: RateLimiter
    faults: FaultInjector

    def __call__(
        self, handler: CrmHandler, *, search: bool = False
    ) -> Callable[[Request], Response]:
        return lambda request: self.run(handler, request, search=search)

    def run(self, handler: CrmHandler, request: Request, *, search: bool) -> Response:
        cid, now, config = new_correlation_id(), self.state.now_ms(), self.faults.config
        try:
            token = self.state.credentials.authenticate(
                request.header("authorization"), now, config.token_ttl_calls, config
            )
        except HttpError as error:
            return error_response(error, cid)
        verdict = self.limiter.check(
            token.app_id, search=search, daily=self._daily_budget(token), now_ms=now
        )
        if not verdict.allowed:
            return rate_limit_response(str(verdict.policy), verdict.headers, cid)
        # The client percent-encodes path parameters; the router leaves them encoded.
        request.params = {key: unquote(value) for key, value in request.params.items()}
        try:
            response = handler(request, token)
        except HttpError as error:
            response = error_response(error, cid)
        response.headers.update(verdict.headers)
        response.headers[CORRELATION_HEADER] = cid
        return response

    def _daily_budget(self, token: AccessToken) -> int | None:
        """Private apps share the account's daily budget; OAuth apps have none."""
        if token.kind != "private_app":
            return None
        override = self.faults.config.daily_budget
        return override if override is not None else self.limiter.limits.daily_budget


def build_hubspot_server(
    state: HubSpotState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: HubSpotLimits | None = None,
    meter: Meter | None = None,
    faults: FaultInjector | None = None,
    tls: ssl.SSLContext | None = None,
) -> SandboxHttpServer:
    """A server over ``state``; the admin reset restores the data as it is now."""
    limits = limits or HubSpotLimits()
    meter, faults = meter or Meter(), faults or FaultInjector()
    state.index_lag_ms = int(limits.search_index_lag_seconds * 1000)
    limiter = RateLimiter(limits)
    gate = Gate(state, limiter, faults)
    router = Router()
    routes_objects.add_routes(router, state, gate)
    routes_portal.add_routes(router, state, gate)
    snapshot = state.snapshot()

    def reset() -> None:
        state.restore(snapshot)
        limiter.reset()

    add_admin_routes(router, meter=meter, faults=faults, clock=state.clock, reset=reset)
    behaviour = HubSpotBehaviour(limits)
    return SandboxHttpServer((host, port), router, behaviour, meter=meter, faults=faults, tls=tls)
