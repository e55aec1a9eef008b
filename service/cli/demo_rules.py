"""The demo's evaluation step: apply the default rule pack, evaluate every connection,
print the scorecards and findings, and check the findings against the seeded org's
ground truth (which reps the generator made drift, and from when).

Kept apart from :mod:`service.cli.demo` so the sync half and the rules half of the demo can
change independently.
"""

from __future__ import annotations

from collections.abc import Sequence

from rules.intents import OpenFinding
from sandbox.runner import SandboxInfo
from service.cli.reports import format_evaluation
from service.evaluation.packs import default_pack_dir, load_pack
from service.evaluation.run import EvaluationResult, evaluate_connection
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
