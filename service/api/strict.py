"""Unknown query parameters are refused, not ignored: a misspelt filter
(``?sevrity=high``) would otherwise answer every finding, and the caller would never
know. The answer names each unknown parameter (and each value holding a NUL, which
PostgreSQL text cannot hold)."""

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
    # NUL cannot be stored or compared in PostgreSQL text: refused here, named, not a 500.
    unknown += sorted({name for name, value in request.query_params.multi_items()
                       if "\x00" in value and name in known})  # fmt: skip
    if unknown:
        problems = [
            FieldProblem(field=name, message="not a parameter of this endpoint"
                         if name not in known else "a NUL character is not allowed")
            for name in unknown
        ]  # fmt: skip
        raise invalid("the request has unknown query parameters", problems)


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters an endpoint declares, its dependencies' included."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names
