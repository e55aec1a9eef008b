"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has the same shape: ``type`` (a stable URI naming the
kind of problem), ``title``, ``status``, ``detail`` (what to fix, in a sentence) and,
for invalid input, ``errors``: one ``{field, message}`` per problem, the field as a
dotted path into the body (``standard.min``) or the parameter's name. Values given are
never echoed (a body may hold a secret).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
TYPES = "https://driftcoach.dev/problems/"


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


class ApiProblem(Exception):  # noqa: N818 - it is what the API answers, by name
    """Raise to answer with a problem; ``kind`` is the last part of its ``type`` URI."""

    def __init__(  # noqa: PLR0917 - status, kind, title, detail: what every problem says
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.errors, self.headers = list(errors), headers


def invalid(detail: str, errors: Sequence[FieldProblem]) -> ApiProblem:
    return ApiProblem(422, "invalid", "The request is not valid", detail, errors)


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, "not-found", "Not found", f"{what} does not exist")


def field_problems(lines: Sequence[str], *, prefix: str = "") -> list[FieldProblem]:
    """``field: message`` lines (as the rules core writes them) as field problems."""
    problems = []
    for line in lines:
        field, _, message = line.partition(": ")
        problems.append(FieldProblem(field=f"{prefix}{field}", message=message or line))
    return problems


def response(problem: ApiProblem) -> JSONResponse:
    body = Problem(
        type=TYPES + problem.kind,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        errors=problem.errors,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=dict(problem.headers) if problem.headers else None,
    )


def install(app: FastAPI) -> None:
    """Answer every error, FastAPI's own included, as problem details."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)  # noqa: S101 - registered for it alone
        return response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        errors = [_field_problem(error) for error in exc.errors()]
        return response(invalid("the request has invalid fields", errors))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        detail = str(exc.detail) if exc.detail else "the request cannot be served"
        return response(ApiProblem(exc.status_code, kind, detail, detail, headers=exc.headers))

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:] if loc[0] == "body" else loc[1:] or loc
    return FieldProblem(field=".".join(loc) or "body", message=str(error.get("msg", "invalid")))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry declaring ``statuses`` as problem details in OpenAPI."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: schema}, "description": _TITLES[status]}
        for status in statuses
    }


_TITLES = {
    400: "Bad request",
    401: "Missing, malformed, unknown or revoked API key",
    403: "The key lacks the scope this needs",
    404: "Not found",
    409: "Conflicts with what exists",
    412: "The If-Match version is not the current one",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "Invalid fields, each named",
    428: "If-Match is required",
    429: "Too many at once: try again later",
    503: "Not available: a setting or a dependency is missing",
}
