"""Settings for one HubSpot connection: where, how to authenticate, and how hard to pull.

Credentials are ``SecretStr`` so they never reach ``repr()``, logs or tracebacks. Each
authentication method is its own model (``method`` tells them apart), so a connection
cannot be half configured for two methods at once.

HubSpot has no manager field on owners: who manages whom comes from the portal's teams
(``team_managers``: a team's members report to its manager) or is given per owner
(``owner_managers``, which wins). Both take owner ids or emails, and team ids or names, so
an operator can write them without looking ids up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_BASE_URL = "https://api.hubapi.com"

DEFAULT_QUALIFICATION_PROPERTIES: dict[str, str] = {
    "budget_confirmed": "budget_confirmed",
    "decision_maker": "decision_maker",
    "pain_identified": "pain_identified",
    "next_meeting_date": "next_meeting_date",
}

#: hs_task_priority values by canonical priority (HubSpot's own option values).
DEFAULT_TASK_PRIORITIES: dict[str, str] = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrivateAppAuth(_Strict):
    """A private app's access token: it never expires (it can be rotated in HubSpot)."""

    method: Literal["private_app"] = "private_app"
    access_token: SecretStr


class OAuthAuth(_Strict):
    """A public app installed in the portal: access tokens are minted from the refresh
    token and renewed ``refresh_margin_seconds`` before their ``expires_in`` runs out."""

    method: Literal["oauth"] = "oauth"
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    refresh_margin_seconds: int = Field(300, ge=0)


AuthConfig = Annotated[PrivateAppAuth | OAuthAuth, Field(discriminator="method")]


class RetryPolicy(_Strict):
    """Bounded exponential backoff with full jitter: ``attempts`` tries in all for 5xx,
    timeouts and dropped connections, ``rate_limit_attempts`` for 429 answers."""

    attempts: int = Field(5, ge=1, le=20)
    rate_limit_attempts: int = Field(10, ge=1, le=50)
    base_delay_seconds: float = Field(0.5, ge=0)
    max_delay_seconds: float = Field(20.0, ge=0)
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(120.0, gt=0)


class PacingPolicy(_Strict):
    """The client-side limits; the ``X-HubSpot-RateLimit-*`` headers override the first.

    ``ten_second_budget`` applies to every call but searches, which HubSpot exempts from
    it and limits per account per second instead (``searches_per_second``).
    """

    ten_second_budget: int = Field(100, ge=1)
    interval_seconds: float = Field(10.0, gt=0)
    searches_per_second: int = Field(5, ge=1)


class HubSpotConfig(_Strict):
    """One HubSpot portal."""

    auth: AuthConfig
    base_url: str = Field(DEFAULT_BASE_URL, description="The API host (the sandbox, or EU).")
    ca_bundle: Path | None = Field(None, description="Extra CA bundle, e.g. the sandbox's.")
    history_days: int = Field(400, ge=1, description="How far back a first sync reads.")
    lookback_seconds: int = Field(
        300, ge=0, description="Re-read this much before the cursor (late index updates, skew)."
    )
    index_lag_seconds: int = Field(
        60,
        ge=0,
        description="A search window ends this long before now: the index is eventually"
        " consistent. Also how long write-back waits before it searches for a task whose"
        " create had an unknown outcome.",
    )
    budget_share: float = Field(
        0.10, gt=0, le=1, description="Share of the daily API allowance one run may use."
    )
    marker_search_days: int = Field(
        30, ge=1, description="How far back write-back looks for tasks it may have created."
    )
    qualification_properties: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_QUALIFICATION_PROPERTIES),
        description="Canonical qualification name -> deal property.",
    )
    team_managers: dict[str, str] = Field(
        default_factory=dict, description="Team id or name -> its manager (owner id or email)."
    )
    owner_managers: dict[str, str] = Field(
        default_factory=dict, description="Owner id or email -> manager (owner id or email)."
    )
    task_priorities: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TASK_PRIORITIES))
    task_due_hour_utc: int = Field(
        12, ge=0, le=23, description="hs_timestamp of a coaching task: this hour of its due day."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    pacing: PacingPolicy = Field(default_factory=PacingPolicy)
