"""driftcoach's configuration: one typed object, read once from the environment and passed in.

Every option is an environment variable with the ``DRIFTCOACH_`` prefix; nested groups use
``__`` (``DRIFTCOACH_SALESFORCE__CLIENT_SECRET``). A ``.env`` file in the working directory is
read too, so a developer can keep local secrets out of the shell history. Credentials are
:class:`~pydantic.SecretStr` so they never appear in ``repr()``, logs or tracebacks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from rules.evaluation import EvaluationSettings
from service.outbox.ssrf import UrlPolicy

DEFAULT_DATABASE_URL = "sqlite:///driftcoach.db"

# Values that mean "somebody copied the example file and never filled it in".
_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "xxx"})


class Environment(StrEnum):
    """Where driftcoach runs; production refuses placeholder secrets."""

    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


class SalesforceSettings(BaseModel):
    """Default Salesforce credentials; a connection may override them."""

    login_url: str = "https://login.salesforce.com"
    api_version: str = "59.0"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key_path: str | None = None
    session_id: SecretStr | None = None
    refresh_token: SecretStr | None = None
    ca_bundle: str | None = Field(
        default=None, description="Extra CA bundle for TLS, e.g. the sandbox's locally made CA."
    )


class HubSpotSettings(BaseModel):
    """Default HubSpot credentials; a connection may override them."""

    base_url: str = "https://api.hubapi.com"
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    ca_bundle: str | None = Field(
        default=None, description="Extra CA bundle for TLS, e.g. a sandbox served over HTTPS."
    )


class Settings(BaseSettings):
    """All of driftcoach's settings. Build it once (:func:`load_settings`) and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTCOACH_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Environment = Environment.DEV
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Any SQLAlchemy URL; SQLite by default, PostgreSQL (psycopg 3) at scale.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5_000,
        ge=0,
        description="How long a SQLite writer waits for the lock before failing.",
    )
    db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connection pool size.")
    sync_min_commit: int = Field(
        default=5000,
        ge=1,
        description="A sync commits a checkpoint once this many records wait (1: every page).",
    )
    sync_max_commit_delay_s: float = Field(
        default=2.0,
        ge=0,
        description="...or once this many seconds passed since the sync's last commit.",
    )
    max_data_age_hours: float = Field(
        default=72.0,
        gt=0,
        description="An evaluation holds back rules whose data last synced longer ago.",
    )
    weekly_task_budget: int = Field(
        default=3,
        ge=0,
        le=100,
        description="New coaching tasks a manager gets per week at most, the most severe first.",
    )
    manager_task_budgets: dict[str, int] = Field(
        default_factory=dict,
        description="Per manager CRM id, a weekly task budget other than weekly_task_budget "
        '(JSON: {"005A...": 5}).',
    )
    weekly_hygiene_budget: int = Field(
        default=2,
        ge=0,
        le=100,
        description="New deal-hygiene tasks a rep gets per week at most, about the deals "
        "with the most open pipeline first; they never use a manager's budget.",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts webhook endpoint secrets at rest "
        "('driftcoach webhooks key' makes one).",
    )
    webhook_allow_http: bool = Field(
        default=False, description="Local development only: allow plain-http webhook URLs."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Local development only: allow webhook URLs on this machine or a private "
        "network (switches the SSRF guard's address check off).",
    )
    db_echo: bool = False
    log_level: str = "INFO"
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)

    @field_validator("manager_task_budgets")
    @classmethod
    def _budgets_in_range(cls, value: dict[str, int]) -> dict[str, int]:
        for manager, budget in value.items():
            if not 0 <= budget <= 100:
                raise ValueError(f"{manager}: a weekly task budget is between 0 and 100")
        return value

    def webhook_url_policy(self) -> UrlPolicy:
        """Which webhook URLs the SSRF guard lets through under these settings."""
        return UrlPolicy(
            allow_http=self.webhook_allow_http, allow_private=self.webhook_allow_private
        )

    def evaluation_settings(self) -> EvaluationSettings:
        """What the rules core takes of these settings."""
        return EvaluationSettings(
            weekly_task_budget=self.weekly_task_budget,
            manager_budgets=dict(self.manager_task_budgets),
            hygiene_task_budget=self.weekly_hygiene_budget,
        )

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            # The parser's message repeats the URL, password included: not shown.
            raise ValueError(
                "not a SQLAlchemy database URL (dialect://user:password@host:port/database)"
            ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        for name, secret in _secrets(self):
            if secret is not None and secret.get_secret_value().strip().lower() in (
                _PLACEHOLDER_SECRETS
            ):
                raise ValueError(f"{name} holds a placeholder value; set a real secret")
        return self

    @property
    def sqlalchemy_url(self) -> URL:
        """The database URL with the driver made explicit (see :func:`normalize_database_url`)."""
        return normalize_database_url(self.database_url)


def _secrets(settings: Settings) -> list[tuple[str, SecretStr | None]]:
    found: list[tuple[str, SecretStr | None]] = []
    for group_name in ("salesforce", "hubspot"):
        group = getattr(settings, group_name)
        for field_name in type(group).model_fields:
            value = getattr(group, field_name)
            if isinstance(value, SecretStr):
                found.append((f"{group_name}.{field_name}", value))
    found.append(("webhook_secret_key", settings.webhook_secret_key))
    return found


def normalize_database_url(url: str | URL) -> URL:
    """Pick psycopg 3 for bare ``postgresql://`` (and Heroku-style ``postgres://``) URLs.

    SQLAlchemy maps a bare ``postgresql://`` to psycopg2, which driftcoach does not ship;
    users paste such URLs from their hosting provider, so accept them as they are.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
