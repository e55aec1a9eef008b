"""Connection options and settings secrets combine into a connector configuration."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.salesforce import ClientCredentialsAuth, PasswordAuth, SessionAuth
from service.bootstrap import ConfigurationError, salesforce_config
from service.settings import SalesforceSettings


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
