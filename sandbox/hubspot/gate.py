"""The gate every fake HubSpot CRM route runs behind.

Bearer-token check (401 bodies as HubSpot sends them), the rate-limit budgets (429 with
``policyName``), then the handler; the ``X-HubSpot-RateLimit-*`` headers and the
correlation id are added on the way out. Its own module, so the route modules and the
server that wires them both import it and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from sandbox.faults import FaultInjector
from sandbox.http import HttpError, Request, Response
from sandbox.hubspot.auth import AccessToken
from sandbox.hubspot.errors import (
    CORRELATION_HEADER,
    error_response,
    new_correlation_id,
    rate_limit_response,
)
from sandbox.hubspot.ratelimit import RateLimiter
from sandbox.hubspot.state import HubSpotState

CrmHandler = Callable[[Request, AccessToken], Response]


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
