"""Rules as versioned documents, and the findings judged against them with their history."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables.base import (
    Base,
    BigId,
    Document,
    FindingState,
    IdPk,
    Severity,
    SubjectKind,
    Timestamp,
    enum_column,
    utcnow,
)

# --------------------------------------------------------------------------- rules


class Rule(Base):
    """A rule's identity; its content lives in immutable :class:`RuleVersion` rows."""

    __tablename__ = "rules"

    id: Mapped[IdPk]
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[Timestamp | None]


class RuleVersion(Base):
    """One immutable revision of a rule document; findings name the version that made them."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_id_version"),
    )

    id: Mapped[IdPk]
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("rules.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[Document]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


_LIVE = "state <> 'resolved'"


class Finding(Base):
    """A sustained drift of one rep (or one deal) on one rule, from opening to resolution.

    At most one live (open or snoozed) finding exists per rule and subject; partial unique
    indexes enforce that, so replicas evaluating at once cannot open duplicates.
    """

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(
            "(subject_kind = 'rep' AND opportunity_id IS NULL)"
            " OR (subject_kind = 'deal' AND opportunity_id IS NOT NULL)",
            name="subject_matches_kind",
        ),
        Index(
            "uq_findings_live_rep",
            "rule_id",
            "rep_id",
            unique=True,
            sqlite_where=text(f"subject_kind = 'rep' AND {_LIVE}"),
            postgresql_where=text(f"subject_kind = 'rep' AND {_LIVE}"),
        ),
        Index(
            "uq_findings_live_deal",
            "rule_id",
            "opportunity_id",
            unique=True,
            sqlite_where=text(f"subject_kind = 'deal' AND {_LIVE}"),
            postgresql_where=text(f"subject_kind = 'deal' AND {_LIVE}"),
        ),
        Index("ix_findings_rep_id_state", "rep_id", "state"),
    )

    id: Mapped[IdPk]
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("rules.id", ondelete="CASCADE"))
    rule_version: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind, "subject_kind"))
    rep_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("reps.id", ondelete="CASCADE"),
        comment="The rep coached: the subject itself, or the owner of the deal.",
    )
    opportunity_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("opportunities.id", ondelete="CASCADE")
    )
    state: Mapped[FindingState] = mapped_column(
        enum_column(FindingState, "finding_state"), default=FindingState.OPEN
    )
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "severity"))
    period_start: Mapped[date] = mapped_column(Date, comment="The latest period evaluated.")
    period_end: Mapped[date] = mapped_column(Date)
    observed: Mapped[float | None] = mapped_column(Double)
    standard: Mapped[Document] = mapped_column(comment="The standard applied: min/max, basis.")
    baseline: Mapped[float | None] = mapped_column(
        Double, comment="Own-baseline standards: the baseline the finding opened against."
    )
    evidence: Mapped[Document] = mapped_column(default=dict)
    opened_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[Timestamp | None]
    snoozed_until: Mapped[Timestamp | None]
    coached_at: Mapped[Timestamp | None] = mapped_column(
        comment="When the manager last completed a coaching task of this finding in the CRM "
        "(read back by the sync)."
    )


class FindingTransition(Base):
    """Every change of a finding's state or severity, with the evidence at that moment.

    The finding row holds the present; this table is its history, which the API reads.
    ``action`` is one of: ``opened`` (the rule found drift), ``escalated`` (its severity
    rose), ``eased`` (its severity fell while it stays open: the gap narrowed),
    ``resolved`` (back within the standard for the rule's hysteresis periods, the rule
    disabled, or its subject gone), ``snoozed`` and ``unsnoozed`` (by a person through
    the API, or the snooze's end time passing).
    """

    __tablename__ = "finding_transitions"
    __table_args__ = (Index("ix_finding_transitions_finding_id_at", "finding_id", "at"),)

    id: Mapped[IdPk]
    finding_id: Mapped[int] = mapped_column(BigId, ForeignKey("findings.id", ondelete="CASCADE"))
    at: Mapped[Timestamp] = mapped_column(comment="The evaluation's as-of time.")
    action: Mapped[str] = mapped_column(String(20), comment="opened, escalated, eased or resolved.")
    state: Mapped[FindingState] = mapped_column(enum_column(FindingState, "transition_state"))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "transition_severity"))
    rule_version: Mapped[int] = mapped_column(Integer)
    observed: Mapped[float | None] = mapped_column(Double)
    evidence: Mapped[Document] = mapped_column(default=dict)
