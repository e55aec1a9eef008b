"""What endpoints take from the service's settings, and the problems ``problems.py`` does
not declare yet (429, 503).

``create_app(store)`` does not take settings yet: whoever builds the app sets
``app.state.settings`` (a :class:`~service.settings.Settings`). An endpoint that needs a
setting (the key that encrypts webhook secrets, the evaluation's task budgets and data
age) answers 503 without it rather than guess: a guessed budget would preview tasks
nobody gets, and a webhook secret cannot be stored unencrypted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from service.api.problems import MEDIA_TYPE, ApiProblem, Problem
from service.settings import Settings

#: The largest row id either backend holds (BIGINT; SQLite's INTEGER): a larger one in a
#: path, query or body is refused as invalid before it reaches the driver, which would
#: fail on it.
MAX_ID = 2**63 - 1

_EXTRA_TITLES = {
    429: "Too many waiting: try again later",
    503: "The service lacks a setting this needs",
}


def app_settings(request: Request) -> Settings:
    """The app's settings; 503 when the app was built without them."""
    found = getattr(request.app.state, "settings", None)
    if not isinstance(found, Settings):
        raise unavailable(
            "the API was started without its settings (app.state.settings): this "
            "endpoint needs them"
        )
    return found


Configured = Annotated[Settings, Depends(app_settings)]


def unavailable(detail: str) -> ApiProblem:
    return ApiProblem(503, "unavailable", "Service unavailable", detail)


def more_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Like :func:`service.api.problems.problem_responses`, for 429 and 503 (which its
    table does not hold yet)."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {
            "model": Problem,
            "content": {MEDIA_TYPE: schema},
            "description": _EXTRA_TITLES[status],
        }
        for status in statuses
    }
