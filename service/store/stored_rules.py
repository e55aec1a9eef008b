"""The rules repository: rule identities, their immutable versions, and the audit trail.

A rule's content is never edited in place: applying a changed document adds a version,
so every finding can say exactly which standard produced it. Applying an unchanged
document is a no-op (no version, no audit entry), which makes ``rules apply`` safe to
run from a deploy script on every release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry, Rule, RuleVersion, utcnow


@dataclass(frozen=True)
class AppliedRule:
    key: str
    version: int
    outcome: str  # created, updated, unchanged


@dataclass(frozen=True)
class StoredRule:
    rule_id: int
    key: str
    version: int
    enabled: bool
    document: Mapping[str, Any]


def apply_rule(session: Session, document: Mapping[str, Any], *, actor: str = "cli") -> AppliedRule:
    """Store ``document`` (a validated rule as JSON) as the rule's current version."""
    key, name = str(document["key"]), str(document["name"])
    enabled = bool(document.get("enabled", True))
    rule = session.scalars(select(Rule).where(Rule.key == key)).one_or_none()
    if rule is None:
        rule = Rule(key=key, name=name, enabled=enabled, current_version=1)
        session.add(rule)
        session.flush()
        _add_version(session, rule, 1, document, actor)
        _audit(session, actor, "rule.created", rule, {"version": 1})
        return AppliedRule(key, 1, "created")
    current = _version(session, rule.id, rule.current_version)
    if current is not None and current.document == dict(document) and rule.archived_at is None:
        return AppliedRule(key, rule.current_version, "unchanged")
    rule.current_version += 1
    rule.name, rule.enabled, rule.archived_at = name, enabled, None
    _add_version(session, rule, rule.current_version, document, actor)
    _audit(session, actor, "rule.updated", rule, {"version": rule.current_version})
    return AppliedRule(key, rule.current_version, "updated")


def current_rules(session: Session, *, enabled_only: bool = True) -> list[StoredRule]:
    """Every live rule at its current version, by key."""
    query = (
        select(Rule, RuleVersion)
        .join(
            RuleVersion,
            (RuleVersion.rule_id == Rule.id) & (RuleVersion.version == Rule.current_version),
        )
        .where(Rule.archived_at.is_(None))
        .order_by(Rule.key)
    )
    if enabled_only:
        query = query.where(Rule.enabled.is_(True))
    return [
        StoredRule(rule.id, rule.key, version.version, rule.enabled, version.document)
        for rule, version in session.execute(query)
    ]


def _version(session: Session, rule_id: int, version: int) -> RuleVersion | None:
    return session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == version)
    ).one_or_none()


def _add_version(
    session: Session, rule: Rule, version: int, document: Mapping[str, Any], actor: str
) -> None:
    session.add(
        RuleVersion(rule_id=rule.id, version=version, document=dict(document), created_by=actor)
    )
    session.flush()


def _audit(session: Session, actor: str, action: str, rule: Rule, details: dict[str, Any]) -> None:
    session.add(
        AuditEntry(
            occurred_at=utcnow(),
            actor=actor,
            action=action,
            entity_type="rule",
            entity_id=rule.key,
            details=details,
        )
    )


def find_rule(session: Session, key: str, *, archived: bool = False) -> Rule | None:
    """The rule named ``key`` (an archived one only when asked)."""
    rule = session.scalars(select(Rule).where(Rule.key == key)).one_or_none()
    if rule is None or (rule.archived_at is not None and not archived):
        return None
    return rule


def rule_version(session: Session, rule: Rule, version: int | None = None) -> RuleVersion | None:
    """One version of ``rule`` (default: the current one)."""
    return _version(session, rule.id, rule.current_version if version is None else version)


def rule_versions(session: Session, rule: Rule) -> list[RuleVersion]:
    """Every version of ``rule``, oldest first."""
    query = select(RuleVersion).where(RuleVersion.rule_id == rule.id).order_by(RuleVersion.version)
    return list(session.scalars(query))


def archive_rule(session: Session, rule: Rule, *, actor: str) -> None:
    """Take a rule out of service; its versions stay, and its live findings resolve at the
    next evaluation (as for a disabled rule). Applying its key again revives it."""
    if rule.archived_at is None:
        rule.archived_at = utcnow()
        _audit(session, actor, "rule.archived", rule, {"version": rule.current_version})
