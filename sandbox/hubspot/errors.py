"""HubSpot's error bodies: what a client sees when a call fails.

The general shape is ``{status: "error", message, correlationId, category}`` plus optional
``context``/``errors``; the correlation id is also sent as ``X-HubSpot-Correlation-Id``.
Rate-limit (429) bodies differ: they carry ``errorType``, ``policyName`` and ``requestId``.
https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details#error-responses
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.http import HttpError, Response
from sandbox.hubspot.values import Problem

CORRELATION_HEADER = "X-HubSpot-Correlation-Id"

_DEFAULT_CATEGORY = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    429: "RATE_LIMITS",
}


def new_correlation_id() -> str:
    return str(uuid.uuid4())


class HubSpotError(HttpError):
    """An HttpError with HubSpot's extra body fields and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, category or _DEFAULT_CATEGORY.get(status, "ERROR"))
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def error_response(error: HttpError, correlation_id: str | None = None) -> Response:
    """Render any HttpError as a HubSpot error body."""
    cid = correlation_id or new_correlation_id()
    category = error.code or _DEFAULT_CATEGORY.get(error.status, "ERROR")
    body: dict[str, Any] = {
        "status": "error",
        "message": error.message,
        "correlationId": cid,
        "category": category,
    }
    headers = {CORRELATION_HEADER: cid}
    if isinstance(error, HubSpotError):
        body.update(error.extra)
        headers.update(error.headers)
    return Response.json(error.status, body, headers)


def rate_limit_response(
    policy: str, headers: Mapping[str, str], correlation_id: str | None = None
) -> Response:
    """A 429 as HubSpot sends it; ``policy`` is TEN_SECONDLY_ROLLING, SECONDLY or DAILY."""
    cid = correlation_id or new_correlation_id()
    limit_name = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly"}
    message = (
        "You have reached your daily limit."
        if policy == "DAILY"
        else f"You have reached your {limit_name[policy]} limit."
    )
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": cid,
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
    return Response.json(429, body, {**headers, CORRELATION_HEADER: cid})


def invalid_properties(problems: Sequence[Problem], portal_id: int) -> HubSpotError:
    """HubSpot's 400 for bad property values: the validation results inside the message."""
    results = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.error,
            "name": p.name,
            "localizedErrorMessage": p.message,
            "portalId": portal_id,
        }
        for p in problems
    ]
    message = "Property values were not valid: " + json.dumps(results, separators=(",", ":"))
    return HubSpotError(400, message, "VALIDATION_ERROR")


def standard_error(
    category: str, message: str, context: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """One entry of a batch's ``errors`` (the client requires every field)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {key: list(values) for key, values in (context or {}).items()},
        "errors": [],
        "links": {},
    }
