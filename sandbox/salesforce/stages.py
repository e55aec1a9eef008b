"""The org's opportunity stages and what Salesforce derives from them.

In a real org this is the ``OpportunityStage`` setup object: each stage carries a default
probability, whether it is closed and whether it is won, and a forecast category. The
server uses it to fill ``Probability``, ``IsClosed``, ``IsWon`` and
``ForecastCategoryName`` exactly as Salesforce does when a stage is set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageInfo:
    name: str
    probability: float
    is_closed: bool
    is_won: bool
    forecast_category: str
    sort_order: int


# Salesforce's standard sales process (the values a new org ships with).
STANDARD_STAGES: tuple[StageInfo, ...] = (
    StageInfo("Prospecting", 10, False, False, "Pipeline", 1),
    StageInfo("Qualification", 10, False, False, "Pipeline", 2),
    StageInfo("Needs Analysis", 20, False, False, "Pipeline", 3),
    StageInfo("Value Proposition", 50, False, False, "Pipeline", 4),
    StageInfo("Id. Decision Makers", 60, False, False, "Pipeline", 5),
    StageInfo("Perception Analysis", 70, False, False, "Pipeline", 6),
    StageInfo("Proposal/Price Quote", 75, False, False, "Pipeline", 7),
    StageInfo("Negotiation/Review", 90, False, False, "Pipeline", 8),
    StageInfo("Closed Won", 100, True, True, "Closed", 9),
    StageInfo("Closed Lost", 0, True, False, "Omitted", 10),
)

_BY_NAME = {stage.name.lower(): stage for stage in STANDARD_STAGES}


def find_stage(name: str) -> StageInfo | None:
    return _BY_NAME.get(name.lower())
