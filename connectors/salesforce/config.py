"""Settings for one Salesforce connection: where, how to log in, and how hard to pull.

Credentials are ``SecretStr`` so they never reach ``repr()``, logs or tracebacks. Each
login method is its own model (``method`` tells them apart), so a connection cannot be
half configured for two methods at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DEFAULT_QUALIFICATION_FIELDS: dict[str, str] = {
    "budget_confirmed": "Budget_Confirmed__c",
    "decision_maker": "Decision_Maker__c",
    "pain_identified": "Pain_Identified__c",
    "next_meeting_date": "Next_Meeting_Date__c",
}

DEFAULT_TASK_PRIORITIES: dict[str, str] = {"low": "Low", "medium": "Normal", "high": "High"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientCredentialsAuth(_Strict):
    """OAuth client credentials: the connected app runs as its configured integration user."""

    method: Literal["client_credentials"] = "client_credentials"
    client_id: str
    client_secret: SecretStr


class JwtBearerAuth(_Strict):
    """OAuth JWT bearer: an assertion signed (RS256) with the key whose certificate the
    connected app holds; no secret travels, only the signature."""

    method: Literal["jwt_bearer"] = "jwt_bearer"
    client_id: str
    username: str
    private_key: SecretStr | None = Field(None, description="PEM text of the RSA key.")
    private_key_path: Path | None = None
    audience: str = "https://login.salesforce.com"

    @model_validator(mode="after")
    def _one_key(self) -> JwtBearerAuth:
        if (self.private_key is None) == (self.private_key_path is None):
            raise ValueError("give exactly one of private_key and private_key_path")
        return self


class PasswordAuth(_Strict):
    """OAuth username-password: the security token is appended to the password, as
    Salesforce requires from addresses outside the org's trusted IP ranges."""

    method: Literal["password"] = "password"
    client_id: str
    client_secret: SecretStr
    username: str
    password: SecretStr
    security_token: SecretStr = SecretStr("")


class SessionAuth(_Strict):
    """An existing session (access token); with a refresh token and the connected app's
    client id it can be renewed, without them an expired session is a hard error."""

    method: Literal["session"] = "session"
    session_id: SecretStr
    refresh_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None


AuthConfig = Annotated[
    ClientCredentialsAuth | JwtBearerAuth | PasswordAuth | SessionAuth,
    Field(discriminator="method"),
]


class RetryPolicy(_Strict):
    """Bounded exponential backoff with full jitter for 5xx, timeouts and dropped
    connections: ``attempts`` tries in all, waiting up to ``base * 2**n`` (capped)."""

    attempts: int = Field(5, ge=1, le=20)
    base_delay_seconds: float = Field(0.5, ge=0)
    max_delay_seconds: float = Field(20.0, ge=0)
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(120.0, gt=0)


class SalesforceConfig(_Strict):
    """One Salesforce connection.

    ``instance_url`` is needed only for ``SessionAuth``: the OAuth grants answer with the
    org's instance. ``token_url`` defaults to ``{login_url}/services/oauth2/token``.
    """

    auth: AuthConfig
    login_url: str = "https://login.salesforce.com"
    token_url: str | None = None
    instance_url: str | None = None
    api_version: str = "59.0"
    ca_bundle: Path | None = Field(None, description="Extra CA bundle, e.g. the sandbox's.")
    history_days: int = Field(400, ge=1, description="How far back a first sync reads.")
    lookback_seconds: int = Field(
        300, ge=0, description="Re-read this much before the cursor (late commits, skew)."
    )
    budget_share: float = Field(
        0.10, gt=0, le=1, description="Share of the daily API allocation one run may use."
    )
    page_size: int = Field(2000, ge=200, le=2000, description="Sforce-Query-Options batchSize")
    deleted_window_days: int = Field(
        30, ge=1, le=30, description="How far back Get Deleted may reach (Salesforce: 30)."
    )
    marker_search_days: int = Field(
        30, ge=1, description="How far back write-back looks for tasks it may have created."
    )
    qualification_fields: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_QUALIFICATION_FIELDS)
    )
    task_priorities: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TASK_PRIORITIES),
        description="TaskPriority picklist values by canonical priority (they vary by org).",
    )
    task_status: str = "Not Started"
    #: The Task status that closes a task (a picklist value with IsClosed set).
    task_completed_status: str = "Completed"
    notification_type: str = Field(
        "driftcoach_alert",
        description="DeveloperName of the CustomNotificationType alerts are sent as.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @model_validator(mode="after")
    def _session_needs_instance(self) -> SalesforceConfig:
        if isinstance(self.auth, SessionAuth) and not self.instance_url:
            raise ValueError("session authentication needs instance_url")
        return self

    @property
    def oauth_token_url(self) -> str:
        return self.token_url or f"{self.login_url.rstrip('/')}/services/oauth2/token"
