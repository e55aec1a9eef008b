"""Settings come from DRIFTCOACH_* variables, keep secrets secret and refuse nonsense."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from service.settings import DEFAULT_DATABASE_URL, Environment, Settings, normalize_database_url


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("DRIFTCOACH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_defaults_to_a_sqlite_file():
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.sqlalchemy_url.get_backend_name() == "sqlite"


def test_reads_prefixed_and_nested_environment_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRIFTCOACH_DATABASE_URL", "postgresql://u:p@db.internal:5432/dc")
    monkeypatch.setenv("DRIFTCOACH_SALESFORCE__CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("DRIFTCOACH_HUBSPOT__ACCESS_TOKEN", "pat-na1-123")
    settings = Settings()
    assert settings.sqlalchemy_url.host == "db.internal"
    assert settings.salesforce.client_secret is not None
    assert settings.salesforce.client_secret.get_secret_value() == "s3cr3t-value"
    assert settings.hubspot.access_token is not None


def test_reads_a_dotenv_file_in_the_working_directory(tmp_path):
    (tmp_path / ".env").write_text("DRIFTCOACH_LOG_LEVEL=debug\n")
    assert Settings().log_level == "DEBUG"


def test_secrets_never_show_in_repr_or_dumps(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRIFTCOACH_HUBSPOT__ACCESS_TOKEN", "pat-na1-very-secret")
    settings = Settings()
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    "given",
    ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"],
)
def test_postgresql_urls_use_psycopg_3(given: str):
    assert normalize_database_url(given).drivername == "postgresql+psycopg"


def test_an_invalid_database_url_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="database_url"):
        Settings(database_url="not a url")


def test_an_unknown_log_level_is_refused():
    with pytest.raises(ValidationError, match="log_level"):
        Settings(log_level="chatty")


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRIFTCOACH_HUBSPOT__ACCESS_TOKEN", "changeme")
    assert Settings().hubspot.access_token is not None  # fine on a laptop
    with pytest.raises(ValidationError, match=r"hubspot\.access_token"):
        Settings(environment=Environment.PRODUCTION)


def test_weekly_task_budgets_are_settings_with_per_manager_overrides(
    monkeypatch: pytest.MonkeyPatch,
):
    assert Settings().evaluation_settings().weekly_task_budget == 3
    monkeypatch.setenv("DRIFTCOACH_WEEKLY_TASK_BUDGET", "5")
    monkeypatch.setenv("DRIFTCOACH_MANAGER_TASK_BUDGETS", '{"005MGR": 1}')
    core = Settings().evaluation_settings()
    assert (core.weekly_task_budget, dict(core.manager_budgets)) == (5, {"005MGR": 1})


def test_the_weekly_hygiene_budget_per_rep_is_a_setting(monkeypatch: pytest.MonkeyPatch):
    assert Settings().evaluation_settings().hygiene_task_budget == 2
    monkeypatch.setenv("DRIFTCOACH_WEEKLY_HYGIENE_BUDGET", "0")
    assert Settings().evaluation_settings().hygiene_task_budget == 0


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("DRIFTCOACH_WEEKLY_TASK_BUDGET", "-1", "weekly_task_budget"),
        ("DRIFTCOACH_WEEKLY_HYGIENE_BUDGET", "101", "weekly_hygiene_budget"),
        ("DRIFTCOACH_MANAGER_TASK_BUDGETS", '{"005MGR": 500}', "005MGR"),
        ("DRIFTCOACH_MANAGER_TASK_BUDGETS", "not json", "manager_task_budgets"),
    ],
)
def test_a_budget_out_of_range_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, ValueError), match=named):
        Settings()
