"""The fake HubSpot HTTP server: its routes behind the gate, HubSpot's error shapes.

Every CRM route runs behind :class:`~sandbox.hubspot.gate.Gate` (authentication and
rate limits); routing errors and injected faults are rendered as HubSpot sends them.
"""

from __future__ import annotations

import ssl

from sandbox.admin import add_admin_routes
from sandbox.faults import FaultDecision, FaultInjector, FaultKind
from sandbox.http import HttpError, Request, Response, Router, SandboxHttpServer
from sandbox.hubspot import routes_objects, routes_portal
from sandbox.hubspot.errors import (
    CORRELATION_HEADER,
    HubSpotError,
    error_response,
    new_correlation_id,
    rate_limit_response,
)
from sandbox.hubspot.gate import Gate
from sandbox.hubspot.ratelimit import HubSpotLimits, RateLimiter
from sandbox.hubspot.state import HubSpotState
from sandbox.meter import Meter


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
