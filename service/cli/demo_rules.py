"""The demo's evaluation step: apply the default rule pack, evaluate every connection,
print the scorecards and findings, and check the findings against the seeded org's
ground truth (which reps the generator made drift, and from when).

Kept apart from :mod:`service.cli.demo` so the sync half and the rules half of the demo can
change independently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from rules.intents import OpenFinding
from sandbox.org.model import MISS_THRESHOLD
from sandbox.runner import SandboxInfo
from service.backtest.report import write_report
from service.backtest.run import run_backtest
from service.cli.reports import format_backtest, format_evaluation
from service.evaluation.packs import default_pack_dir, load_pack
from service.evaluation.run import EvaluationResult, evaluate_connection, stored_rules
from service.store import Store
from service.store.stored_rules import apply_rule


def evaluate_demo(store: Store, connections: Sequence[tuple[str, int]], info: SandboxInfo) -> str:
    """Apply the default pack, evaluate each ``(name, connection id)``, compare with truth."""
    pack = load_pack(default_pack_dir())
    with store.unit_of_work() as session:
        for packed in pack:
            apply_rule(session, packed.document.model_dump(mode="json"), actor="demo")
    sections = [f"rules: applied the default pack ({len(pack)} rules from {default_pack_dir()})"]
    results = []
    for name, connection_id in connections:
        result = evaluate_connection(store, connection_id)
        results.append(result)
        sections.append(format_evaluation(name, result, limit=8))
    sections.append(ground_truth_check(results, info))
    return "\n\n".join(sections)


#: The demo's backtest looks this far back, one evaluation a week.
BACKTEST_WEEKS = 13


def backtest_demo(
    store: Store, connections: Sequence[tuple[str, int]], info: SandboxInfo, folder: Path
) -> str:
    """Replay the pack over each connection's last weeks, scored against quota (missed
    below the generator's 80%) and its ground truth; each report is written to
    ``folder``."""
    crm_ids = {**info.salesforce_ids, **info.hubspot_ids}
    causes = {
        crm_ids[truth.user_id]: truth.drift_start
        for truth in info.org.truth
        if truth.drifts and truth.drift_start is not None and truth.user_id in crm_ids
    }
    end = datetime.combine(info.org.spec.as_of + timedelta(days=1), time(), tzinfo=UTC)
    with store.unit_of_work() as session:
        rules, _ = stored_rules(session)
    sections = []
    for name, connection_id in connections:
        backtest = run_backtest(
            store, connection_id, rules, end - timedelta(weeks=BACKTEST_WEEKS), end,
            miss_below=float(MISS_THRESHOLD), causes=causes,
        )  # fmt: skip
        path = folder / f"driftcoach-demo-backtest-{name}.html"
        write_report(backtest, path, connection=name)
        sections.append(f"{format_backtest(name, backtest)}\n  report: {path}")
    return "\n\n".join(sections)


def ground_truth_check(results: Sequence[EvaluationResult], info: SandboxInfo) -> str:
    """How the reps with a rep-level finding compare with the reps the generator drifted."""
    crm_ids = {**info.salesforce_ids, **info.hubspot_ids}
    truth = {t.user_id: t for t in info.org.truth}
    drifting = {
        crm_ids[user.id]: user.name
        for user in info.org.users
        if user.id in crm_ids and truth.get(user.id) and truth[user.id].drifts
    }
    flagged = {
        intent.subject.rep_crm_id
        for result in results
        for intent in result.plan.of_type(OpenFinding)
        if intent.subject.deal_crm_id is None
    }
    caught = sorted(name for crm_id, name in drifting.items() if crm_id in flagged)
    missed = sorted(name for crm_id, name in drifting.items() if crm_id not in flagged)
    return "\n".join(
        [
            "ground truth: reps the generator made drift vs reps with a rep-level finding",
            f"  caught {len(caught)} of {len(drifting)}: {', '.join(caught) or '-'}",
            f"  missed: {', '.join(missed) or '-'}",
            f"  other reps with a rep-level finding: {len(flagged - set(drifting))}"
            " (standards relative to the team also flag its weakest reps)",
        ]
    )
