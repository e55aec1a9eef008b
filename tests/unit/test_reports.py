"""What the command line says of an evaluation: every count named for what it means."""

from __future__ import annotations

from datetime import UTC, datetime

from rules.evaluation import Plan
from rules.scorecard import Scorecard
from service.cli.reports import format_evaluation
from service.evaluation.run import EvaluationResult
from service.store.plan_writer import AppliedPlan

AS_OF = datetime(2026, 11, 18, 10, tzinfo=UTC)


def _result(applied: AppliedPlan, *, dry_run: bool = False) -> EvaluationResult:
    plan = Plan(AS_OF, (), (), Scorecard((), ()))
    return EvaluationResult(1, AS_OF, plan, applied, dry_run)


def test_the_summary_counts_opened_escalated_eased_resolved_refreshed_unchanged_and_live():
    applied = AppliedPlan(
        opened=[1, 2], kept=5, refreshed=3, eased=[7], escalated=[4], resolved=[9],
        tasks_queued=3, hygiene_queued=1, events_queued=3,
    )  # fmt: skip
    lines = format_evaluation("acme", _result(applied)).splitlines()
    assert lines[-2] == (
        "findings: did open 2, escalate 1, ease 1, resolve 1; 2 refreshed, 5 unchanged;"
        " 11 live after this run"
    )
    assert lines[-1] == (
        "tasks: did queue 2 coaching for managers and 1 deal hygiene for reps (0 deferred"
        " by weekly budgets); webhook events: 3"
    )


def test_a_dry_run_says_what_it_would_do():
    text = format_evaluation("acme", _result(AppliedPlan(opened=[1]), dry_run=True))
    assert "(dry run: nothing stored)" in text
    assert "findings: would open 1, escalate 0, ease 0, resolve 0;" in text
