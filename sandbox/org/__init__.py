"""A seeded, CRM-neutral sales organisation with twelve months of history and ground truth.

``generate_org(OrgSpec(...))`` returns a :class:`SalesOrg`: a VP, managers and their teams,
reps with quotas, deals with full field history, calls/emails/meetings/tasks/notes, and for
every rep the truth a drift detector is scored against. Loaders turn it into CRM records.
"""

from .generate import generate_org
from .model import (
    INDICATORS,
    MISS_THRESHOLD,
    STAGES,
    Activity,
    Deal,
    DealChange,
    OrgSpec,
    Quota,
    RepTruth,
    Stage,
    Team,
    User,
)
from .salesorg import SalesOrg

__all__ = [
    "INDICATORS",
    "MISS_THRESHOLD",
    "STAGES",
    "Activity",
    "Deal",
    "DealChange",
    "OrgSpec",
    "Quota",
    "RepTruth",
    "SalesOrg",
    "Stage",
    "Team",
    "User",
    "generate_org",
]
