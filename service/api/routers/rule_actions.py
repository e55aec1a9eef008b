"""``POST /v1/rules/{key}:preview`` (what a rule, or a draft of it, would do now, with
nothing written) and ``POST /v1/rule-packs:apply`` (many documents, all or nothing).

A preview is a dry run of the evaluation restricted to the rule: the same code as
``driftcoach evaluate --dry-run``, whose transaction is rolled back. It judges the rule
alone, so its tasks meet no other rule's in the managers' weekly budgets: a real
evaluation, where the most severe tasks of every rule share them, may create fewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, SkipValidation, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rules.documents import RuleDocument, VersionedRule, describe_errors, load_rule
from service.api.auth import scoped, session, store_of
from service.api.backtest_views import in_utc
from service.api.keys import Caller
from service.api.preview_views import Preview, PreviewIn, connection_preview
from service.api.problems import (
    ApiProblem,
    FieldProblem,
    invalid,
    not_found,
    problem_responses,
)
from service.api.settings_views import Configured, more_problems, unavailable
from service.evaluation.packs import PackError, default_pack_dir, load_pack
from service.evaluation.run import evaluate_connection, stored_rules
from service.store.connections import list_connections
from service.store.stored_rules import apply_rule, find_rule
from service.store.tables import AuditEntry, Connection
from service.store.tables.base import utcnow

router = APIRouter(prefix="/v1", tags=["rules"], responses=problem_responses(400, 413, 422))
Reader = Annotated[Caller, Depends(scoped("rules:read"))]
Writer = Annotated[Caller, Depends(scoped("rules:write"))]
Db = Annotated[Session, Depends(session)]


class PackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Declared as the core's model, so the OpenAPI document carries its schema; checked
    #: here, document by document, so each problem is named ``rules[2].standard.min``.
    rules: list[SkipValidation[RuleDocument]] | None = Field(
        default=None, min_length=1, max_length=200, description="Rule documents."
    )
    pack: Literal["default"] | None = Field(default=None, description="A shipped pack.")


class AppliedView(BaseModel):
    key: str
    outcome: Literal["created", "updated", "unchanged"]
    version: int


class PackApplied(BaseModel):
    rules: list[AppliedView] = Field(description="Each document's rule, in the pack's order.")
    created: int
    updated: int
    unchanged: int


@router.post(
    "/rules/{key}:preview",
    response_model=Preview,
    responses={**problem_responses(401, 403, 404, 409, 422), **more_problems(503)},
)
def preview_rule(
    key: str,
    _: Reader,
    settings: Configured,
    request: Request,
    body: Annotated[PreviewIn | None, Body()] = None,
) -> Preview:
    """What the rule (or ``document``, a draft of it) would do if evaluated now (or
    ``as_of``): the findings it would open, keep, escalate and resolve and the coaching
    tasks it would create, per connection. Nothing is written."""
    asked = body or PreviewIn()
    store = store_of(request)
    with store.unit_of_work() as db:
        rule, draft = _judged(db, key, asked.document)
        targets = _targets(db, asked.connection_id)
    moment = in_utc(asked.as_of or utcnow(), "as_of")
    previews = []
    for connection_id, name in targets:
        result = evaluate_connection(
            store, connection_id, as_of=moment, dry_run=True, only=rule,
            settings=settings.evaluation_settings(),
            max_data_age=timedelta(hours=settings.max_data_age_hours),
        )  # fmt: skip
        previews.append(connection_preview(connection_id, name, result))
    return Preview(key=key, version=rule.version, draft=draft, as_of=moment, connections=previews)


@router.post(
    "/rule-packs:apply",
    response_model=PackApplied,
    responses={**problem_responses(401, 403, 422), **more_problems(503)},
)
def apply_pack(body: PackIn, who: Writer, db: Db) -> PackApplied:
    """Validate every document first (every problem, each named ``rules[2].standard.min``),
    then apply them all in one transaction: all or nothing. Each document makes a new
    version of its rule when it changed it (``updated``), none when not (``unchanged``)."""
    if (body.rules is None) == (body.pack is None):
        problem = FieldProblem(field="rules", message="give rules or pack (exactly one)")
        raise invalid("nothing to apply", [problem])
    documents = _pack_documents() if body.rules is None else _validated(body.rules)
    applied = []
    for n, document in enumerate(documents):
        try:
            done = apply_rule(db, document, actor=who.name)
        except SQLAlchemyError as exc:  # the whole request rolls back
            message = f"the store refused it ({type(exc).__name__}): nothing applied"
            problem = FieldProblem(field=f"rules[{n}]", message=message)
            raise invalid("a rule could not be stored", [problem]) from None
        applied.append(AppliedView.model_validate(vars(done)))
    outcomes = ("created", "updated", "unchanged")
    counts = {outcome: sum(1 for a in applied if a.outcome == outcome) for outcome in outcomes}
    db.add(AuditEntry(actor=who.name, action="rule_pack.applied", entity_type="rule_pack",
                      entity_id=body.pack, details={"rules": [a.model_dump() for a in applied],
                                                    **counts}))  # fmt: skip
    return PackApplied(rules=applied, **counts)


def _validated(raw: Sequence[object]) -> list[dict[str, Any]]:
    """Every document checked; all their problems at once, or the documents as JSON."""
    problems: list[FieldProblem] = []
    documents: list[dict[str, Any]] = []
    first_of: dict[str, int] = {}
    for n, document in enumerate(raw):
        refused = nul_problems(document, f"rules[{n}]")
        if refused:
            problems.extend(refused)
            continue
        try:
            checked = load_rule(document).model_dump(mode="json")
        except ValidationError as exc:
            problems.extend(_problems(f"rules[{n}]", describe_errors(exc, whole="")))
            continue
        key = checked["key"]
        if key in first_of:
            message = f"key {key!r} is also the key of rules[{first_of[key]}]"
            problems.append(FieldProblem(field=f"rules[{n}].key", message=message))
        first_of.setdefault(key, n)
        documents.append(checked)
    if problems:
        raise invalid("nothing applied: a document is not valid", problems)
    return documents


def nul_problems(value: object, field: str) -> list[FieldProblem]:
    """Each text of a document holding a NUL character. PostgreSQL cannot store one and
    SQLite would, so both backends refuse it here alike, before anything is judged."""
    if isinstance(value, str) and "\x00" in value:
        return [FieldProblem(field=field, message="NUL characters are refused")]
    found: list[FieldProblem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += nul_problems(key, field) + nul_problems(item, f"{field}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += nul_problems(item, f"{field}.{n}")
    return found


def _problems(prefix: str, lines: list[str]) -> list[FieldProblem]:
    found = []
    for line in lines:
        where, _, message = line.partition(": ")
        found.append(FieldProblem(field=f"{prefix}.{where}" if where else prefix, message=message))
    return found


def _pack_documents() -> list[dict[str, Any]]:
    try:
        pack = load_pack(default_pack_dir())
    except PackError as exc:  # the installation is broken, not the request
        raise unavailable("the default pack does not load: " + "; ".join(exc.problems)) from None
    return [packed.document.model_dump(mode="json") for packed in pack]


def _judged(db: Session, key: str, draft: object | None) -> tuple[VersionedRule, bool]:
    """The rule to judge: the draft (validated, as the version it would be), else the
    stored one. 404 without either; 409 when the stored one no longer validates."""
    stored = find_rule(db, key, archived=True)
    if draft is not None:
        refused = nul_problems(draft, "document")
        if refused:
            raise invalid("the draft document is not valid", refused)
        try:
            document = load_rule(draft)
        except ValidationError as exc:
            problems = _problems("document", describe_errors(exc, whole=""))
            raise invalid("the draft document is not valid", problems) from None
        if document.key != key:
            problem = FieldProblem(field="document.key", message=f"must be {key!r}")
            raise invalid("the draft names another rule", [problem])
        return VersionedRule(document, 1 if stored is None else stored.current_version + 1), True
    if stored is None or stored.archived_at is not None:
        raise not_found(f"rule {key!r}")
    rules, broken = stored_rules(db, enabled_only=False)
    found = next((rule for rule in rules if rule.key == key), None)
    if found is None or key in broken:
        detail = f"rule {key!r} no longer validates: apply it again"
        raise ApiProblem(409, "conflict", "Conflict", detail)
    return found, False


def _targets(db: Session, connection_id: int | None) -> list[tuple[int, str]]:
    if connection_id is None:
        return [(c.id, c.name) for c in list_connections(db, enabled_only=True)]
    found = db.get(Connection, connection_id)
    if found is None:
        problem = FieldProblem(field="connection_id", message=f"no connection {connection_id}")
        raise invalid("the connection does not exist", [problem])
    return [(found.id, found.name)]
