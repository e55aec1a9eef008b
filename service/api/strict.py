"""Unknown query parameters are refused, not ignored: a misspelt filter
(``?sevrity=high``) would otherwise answer every finding, and the caller would never
know. The answer names each unknown parameter."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.api.problems import FieldProblem, invalid


def known_query_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = set(_query_names(route.dependant))
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        problems = [FieldProblem(field=name, message="not a parameter of this endpoint")
                    for name in unknown]  # fmt: skip
        raise invalid("the request has unknown query parameters", problems)


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters an endpoint declares, its dependencies' included."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names
