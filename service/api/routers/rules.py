"""``/v1/rules``: rules as versioned documents.

Every change (create, replace, enable, disable) adds an immutable version with its
author (the API key's name) and time; any version can be read and two compared. Writes
take ``If-Match`` with the version's ETag (``"v3"``): a stale one is refused with 412, a
missing one with 428, so two people editing one rule cannot overwrite each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.documents import RuleDocument
from service.api.auth import scoped, session
from service.api.diff import Change, diff_documents
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import (
    ApiProblem,
    field_problems,
    invalid,
    not_found,
    problem_responses,
)
from service.store.stored_rules import (
    apply_rule,
    archive_rule,
    find_rule,
    rule_version,
    rule_versions,
)
from service.store.tables import Rule, RuleVersion

router = APIRouter(prefix="/v1", tags=["rules"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Reader = Annotated[Caller, Depends(scoped("rules:read"))]
Writer = Annotated[Caller, Depends(scoped("rules:write"))]
#: The body as the rules core defines it: the OpenAPI document carries its JSON schema
#: (every metric, standard and policy), so a client can build a form from it.
Document = Annotated[RuleDocument, Body(description="A rule document; most fields have defaults.")]
IfMatch = Annotated[str | None, Header(description='The ETag of the version changed: "v3".')]
AUTH = problem_responses(401, 403, 422)


class RuleSummary(BaseModel):
    key: str
    name: str
    enabled: bool
    version: int
    updated_at: datetime


class RuleVersionView(BaseModel):
    key: str
    version: int
    current: bool
    created_at: datetime
    created_by: str | None
    document: dict[str, Any]


class Validation(BaseModel):
    valid: bool
    key: str


class Diff(BaseModel):
    key: str
    from_version: int
    to_version: int
    changes: list[Change]


@router.get("/rules", response_model=Page[RuleSummary], responses=AUTH)
def list_rules(
    db: Db,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RuleSummary]:
    """Live rules by key."""
    after = decode(cursor, 1)
    query = select(Rule).where(Rule.archived_at.is_(None)).order_by(Rule.key).limit(limit + 1)
    if after is not None:
        query = query.where(Rule.key > str(after[0]))
    found = [_summary(rule) for rule in db.scalars(query)]
    return page(found, limit, lambda summary: [summary.key])


@router.post(
    "/rules:validate", response_model=Validation, responses=problem_responses(401, 403, 422)
)
def validate_rule(document: Document, _: Reader) -> Validation:
    """Validate a document without saving it: the same ``field: reason`` messages as the
    CLI, as problem details."""
    checked = _validated(document)
    return Validation(valid=True, key=checked["key"])


#: What a client (and schemathesis's stateful runs) may do next with a rule it created.
_CREATED_LINKS: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The rule, at version 1",
        "links": {
            name: {"operationId": operation, "parameters": {"key": "$response.body#/key"}}
            for name, operation in (
                ("GetRule", "get_rule"),
                ("ListVersions", "list_rule_versions"),
                ("ReplaceRule", "replace_rule"),
            )
        },
    }
}


@router.post(
    "/rules",
    status_code=201,
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 409, 422) | _CREATED_LINKS,
)
def create_rule(document: Document, db: Db, who: Writer, response: Response) -> RuleVersionView:
    """A new rule at version 1. A key in use is a conflict (replace it with PUT)."""
    checked = _validated(document)
    if find_rule(db, checked["key"]) is not None:
        detail = f"rule {checked['key']!r} exists: replace it with PUT and If-Match"
        raise ApiProblem(409, "conflict", "Conflict", detail)
    applied = apply_rule(db, checked, actor=who.name)
    return _current(db, applied.key, response)


@router.get(
    "/rules/{key}",
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 404),
    operation_id="get_rule",
)
def get_rule(key: str, db: Db, _: Reader, response: Response) -> RuleVersionView:
    """The rule's current version; its ETag is what a change must send as If-Match."""
    return _current(db, key, response)


@router.put(
    "/rules/{key}",
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    operation_id="replace_rule",
)
def replace_rule(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    key: str, document: Document, db: Db, who: Writer, response: Response, if_match: IfMatch = None
) -> RuleVersionView:
    """A new version with this document (unchanged: no new version)."""
    rule = _matching(db, key, if_match)
    checked = _validated(document)
    if checked["key"] != rule.key:
        problem = field_problems([f"key: the document's key must be {rule.key!r}"])
        raise invalid("the document names another rule", problem)
    apply_rule(db, checked, actor=who.name)
    return _current(db, key, response)


@router.post(
    "/rules/{key}:enable",
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 404, 412, 428),
)
def enable_rule(
    key: str, db: Db, who: Writer, response: Response, if_match: IfMatch = None
) -> RuleVersionView:
    """Judge reps by it again (a new version with ``enabled: true``)."""
    return _switched(db, key, True, who, response=response, if_match=if_match)


@router.post(
    "/rules/{key}:disable",
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 404, 412, 428),
)
def disable_rule(
    key: str, db: Db, who: Writer, response: Response, if_match: IfMatch = None
) -> RuleVersionView:
    """Stop judging by it; its live findings resolve at the next evaluation."""
    return _switched(db, key, False, who, response=response, if_match=if_match)


@router.delete(
    "/rules/{key}", status_code=204, responses=problem_responses(401, 403, 404, 412, 428)
)
def delete_rule(key: str, db: Db, who: Writer, if_match: IfMatch = None) -> Response:
    """Archive the rule: its versions and findings stay readable, and its live findings
    resolve at the next evaluation. Creating the key again revives it."""
    archive_rule(db, _matching(db, key, if_match), actor=who.name)
    return Response(status_code=204)


@router.get(
    "/rules/{key}/versions",
    response_model=Page[RuleVersionView],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="list_rule_versions",
)
def list_versions(
    key: str,
    db: Db,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RuleVersionView]:
    """Every version, newest first, each with its author and time."""
    rule = _rule(db, key, archived=True)
    after = decode(cursor, 1)
    versions = [v for v in reversed(rule_versions(db, rule))
                if after is None or v.version < int(after[0])]  # fmt: skip
    views = [_view(rule, v) for v in versions[: limit + 1]]
    return page(views, limit, lambda view: [view.version])


@router.get(
    "/rules/{key}/versions/{version}",
    response_model=RuleVersionView,
    responses=problem_responses(401, 403, 404),
)
def get_version(key: str, version: int, db: Db, _: Reader) -> RuleVersionView:
    rule = _rule(db, key, archived=True)
    found = rule_version(db, rule, version)
    if found is None:
        raise not_found(f"version {version} of rule {key!r}")
    return _view(rule, found)


@router.get(
    "/rules/{key}/diff", response_model=Diff, responses=problem_responses(401, 403, 404, 422)
)
def diff_versions(
    key: str,
    db: Db,
    _: Reader,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> Diff:
    """What changed from one version to another (default: to the current one), field by
    field."""
    rule = _rule(db, key, archived=True)
    to = to_version or rule.current_version
    before, after = rule_version(db, rule, from_version), rule_version(db, rule, to)
    if before is None or after is None:
        missing = from_version if before is None else to
        raise not_found(f"version {missing} of rule {key!r}")
    changes = diff_documents(before.document, after.document)
    return Diff(key=key, from_version=from_version, to_version=to, changes=changes)


def _validated(document: RuleDocument) -> dict[str, Any]:
    """The document as stored: JSON, every default written out. (FastAPI validated it
    against the rules core's model already, with each problem named by field.)"""
    return document.model_dump(mode="json")


def _rule(db: Session, key: str, *, archived: bool = False) -> Rule:
    rule = find_rule(db, key, archived=archived)
    if rule is None:
        raise not_found(f"rule {key!r}")
    return rule


def _matching(db: Session, key: str, if_match: str | None) -> Rule:
    """The rule, if ``If-Match`` names its current version."""
    rule = _rule(db, key)
    if if_match is None:
        detail = f'send If-Match: "v{rule.current_version}" (from GET /v1/rules/{key})'
        raise ApiProblem(428, "precondition-required", "Precondition required", detail)
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if f'"v{rule.current_version}"' not in wanted and "*" not in wanted:
        raise ApiProblem(412, "precondition-failed", "Precondition failed",
                         f"rule {key!r} is at version {rule.current_version} now: read it "
                         "again and resend your change")  # fmt: skip
    return rule


def _switched(
    db: Session, key: str, enabled: bool, who: Caller, *, response: Response, if_match: str | None
) -> RuleVersionView:
    rule = _matching(db, key, if_match)
    current = rule_version(db, rule)
    if current is None:
        raise not_found(f"rule {key!r}")
    apply_rule(db, {**current.document, "enabled": enabled}, actor=who.name)
    return _current(db, key, response)


def _current(db: Session, key: str, response: Response) -> RuleVersionView:
    rule = _rule(db, key)
    current = rule_version(db, rule)
    if current is None:
        raise not_found(f"rule {key!r}")
    response.headers["ETag"] = f'"v{rule.current_version}"'
    return _view(rule, current)


def _view(rule: Rule, version: RuleVersion) -> RuleVersionView:
    return RuleVersionView(
        key=rule.key,
        version=version.version,
        current=version.version == rule.current_version,
        created_at=version.created_at,
        created_by=version.created_by,
        document=dict(version.document),
    )


def _summary(rule: Rule) -> RuleSummary:
    return RuleSummary(key=rule.key, name=rule.name, enabled=rule.enabled,
                       version=rule.current_version, updated_at=rule.updated_at)  # fmt: skip
