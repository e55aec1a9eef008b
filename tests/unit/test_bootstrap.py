"""Connection options and settings secrets combine into a connector configuration."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.hubspot import HubSpotConnector, OAuthAuth, PrivateAppAuth
from connectors.salesforce import ClientCredentialsAuth, PasswordAuth, SessionAuth
from service.bootstrap import (
    ConfigurationError,
    build_connector,
    hubspot_config,
    salesforce_config,
)
from service.settings import HubSpotSettings, SalesforceSettings, Settings
from service.store.tables import Connection, CrmKind


def test_secrets_come_from_settings_and_options_from_the_connection():
    secrets = SalesforceSettings(client_secret=SecretStr("s3cret"), ca_bundle="/etc/ca.pem")
    config = salesforce_config(
        {"client_id": "3MVG", "login_url": "https://acme.my.salesforce.com", "history_days": 90},
        secrets,
    )
    assert isinstance(config.auth, ClientCredentialsAuth)
    assert config.auth.client_secret.get_secret_value() == "s3cret"
    assert (config.login_url, config.history_days) == ("https://acme.my.salesforce.com", 90)
    assert str(config.ca_bundle) == "/etc/ca.pem"


def test_the_password_flow_takes_an_optional_security_token():
    secrets = SalesforceSettings(
        client_id="3MVG", client_secret=SecretStr("s"), password=SecretStr("p")
    )
    config = salesforce_config({"auth_method": "password", "username": "ada@acme"}, secrets)
    assert isinstance(config.auth, PasswordAuth)
    assert config.auth.username == "ada@acme"


def test_a_session_needs_only_its_id_and_instance():
    secrets = SalesforceSettings(session_id=SecretStr("00D!abc"))
    options = {"auth_method": "session", "instance_url": "https://acme.my.salesforce.com"}
    assert isinstance(salesforce_config(options, secrets).auth, SessionAuth)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"client_id": "x"}, "DRIFTCOACH_SALESFORCE__CLIENT_SECRET"),
        ({"auth_method": "magic"}, "auth_method must be one of"),
        ({"auth_method": "jwt_bearer", "client_id": "x"}, "DRIFTCOACH_SALESFORCE__USERNAME"),
    ],
)
def test_missing_or_unknown_settings_are_named(options: dict[str, str], message: str):
    with pytest.raises(ConfigurationError, match=message):
        salesforce_config(options, SalesforceSettings())


# ----------------------------------------------------------------------------- HubSpot


def test_a_hubspot_private_app_takes_its_token_from_settings():
    secrets = HubSpotSettings(access_token=SecretStr("pat-na1-x"), ca_bundle="/etc/ca.pem")
    config = hubspot_config(
        {"base_url": "http://127.0.0.1:8080", "team_managers": {"East": "lead@acme.test"}},
        secrets,
    )
    assert isinstance(config.auth, PrivateAppAuth)
    assert config.auth.access_token.get_secret_value() == "pat-na1-x"
    assert (config.base_url, config.team_managers) == (
        "http://127.0.0.1:8080", {"East": "lead@acme.test"},
    )  # fmt: skip
    assert str(config.ca_bundle) == "/etc/ca.pem"


def test_a_hubspot_oauth_app_needs_its_client_and_refresh_token():
    secrets = HubSpotSettings(client_secret=SecretStr("s"), refresh_token=SecretStr("na1-r"))
    config = hubspot_config({"auth_method": "oauth", "client_id": "app-1"}, secrets)
    assert isinstance(config.auth, OAuthAuth)
    assert config.base_url == "https://api.hubapi.com"
    without_refresh = HubSpotSettings(client_secret=SecretStr("s"))
    with pytest.raises(ConfigurationError, match="DRIFTCOACH_HUBSPOT__REFRESH_TOKEN"):
        hubspot_config({"auth_method": "oauth", "client_id": "x"}, without_refresh)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "DRIFTCOACH_HUBSPOT__ACCESS_TOKEN"),
        ({"auth_method": "api_key"}, "auth_method must be one of private_app, oauth"),
    ],
)
def test_missing_or_unknown_hubspot_settings_are_named(options: dict[str, str], message: str):
    with pytest.raises(ConfigurationError, match=message):
        hubspot_config(options, HubSpotSettings())


def test_a_hubspot_connection_builds_the_hubspot_connector():
    connection = Connection(name="hs", crm=CrmKind.HUBSPOT, config={"base_url": "http://x"})
    settings = Settings(hubspot=HubSpotSettings(access_token=SecretStr("pat")), _env_file=None)
    connector = build_connector(connection, settings)
    try:
        assert isinstance(connector, HubSpotConnector)
        assert connector.crm == "hubspot"
    finally:
        connector.close()
