"""The one place that builds concrete objects: connectors from connections and settings.

A connection row holds the non-secret options (URLs, auth method, client id, tuning);
the secrets come from settings (``DRIFTCOACH_SALESFORCE__CLIENT_SECRET``,
``DRIFTCOACH_HUBSPOT__ACCESS_TOKEN`` ...). Merging them here keeps secrets out of the
database and out of every other module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from connectors.base import Connector
from connectors.hubspot import HubSpotConfig, HubSpotConnector
from connectors.salesforce import SalesforceConfig, SalesforceConnector
from service.settings import HubSpotSettings, SalesforceSettings, Settings
from service.store.tables import Connection, CrmKind

# Per login method: (required fields, optional fields).
SALESFORCE_AUTH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "client_credentials": (("client_id", "client_secret"), ()),
    "password": (("client_id", "client_secret", "username", "password"), ("security_token",)),
    "jwt_bearer": (("client_id", "username", "private_key_path"), ()),
    "session": (("session_id",), ("refresh_token", "client_id", "client_secret")),
}


# HubSpot: per authentication method, the fields it needs (none is optional).
HUBSPOT_AUTH_FIELDS: dict[str, tuple[str, ...]] = {
    "private_app": ("access_token",),
    "oauth": ("client_id", "client_secret", "refresh_token"),
}


class ConfigurationError(ValueError):
    """A connection cannot be built: says which setting is missing or wrong."""


def salesforce_config(options: Mapping[str, Any], secrets: SalesforceSettings) -> SalesforceConfig:
    """Connection options plus the secrets from settings, as the connector's config."""
    values = dict(options)
    method = str(values.pop("auth_method", "client_credentials"))
    fields = SALESFORCE_AUTH_FIELDS.get(method)
    if fields is None:
        raise ConfigurationError(
            f"auth_method must be one of {', '.join(SALESFORCE_AUTH_FIELDS)}, not {method!r}"
        )
    required, optional = fields
    auth: dict[str, Any] = {"method": method}
    for name in (*required, *optional):
        value = values.pop(name, None) or _secret_value(getattr(secrets, name, None))
        if value is None and name in required:
            variable = f"DRIFTCOACH_SALESFORCE__{name.upper()}"
            raise ConfigurationError(f"{method} needs {name}: set {variable}")
        if value is not None:
            auth[name] = value
    values.setdefault("login_url", secrets.login_url)
    values.setdefault("api_version", secrets.api_version)
    if secrets.ca_bundle and "ca_bundle" not in values:
        values["ca_bundle"] = secrets.ca_bundle
    return SalesforceConfig.model_validate({**values, "auth": auth})


def hubspot_config(options: Mapping[str, Any], secrets: HubSpotSettings) -> HubSpotConfig:
    """Connection options plus the secrets from settings, as the connector's config."""
    values = dict(options)
    method = str(values.pop("auth_method", "private_app"))
    fields = HUBSPOT_AUTH_FIELDS.get(method)
    if fields is None:
        raise ConfigurationError(
            f"auth_method must be one of {', '.join(HUBSPOT_AUTH_FIELDS)}, not {method!r}"
        )
    auth: dict[str, Any] = {"method": method}
    for name in fields:
        value = values.pop(name, None) or _secret_value(getattr(secrets, name, None))
        if value is None:
            raise ConfigurationError(
                f"{method} needs {name}: set DRIFTCOACH_HUBSPOT__{name.upper()}"
            )
        auth[name] = value
    values.setdefault("base_url", secrets.base_url)
    if secrets.ca_bundle and "ca_bundle" not in values:
        values["ca_bundle"] = secrets.ca_bundle
    return HubSpotConfig.model_validate({**values, "auth": auth})


def _secret_value(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return value


def build_connector(connection: Connection, settings: Settings) -> Connector:
    """The connector for ``connection``; one instance per run (it meters that run)."""
    if connection.crm is CrmKind.SALESFORCE:
        return SalesforceConnector(salesforce_config(connection.config, settings.salesforce))
    if connection.crm is CrmKind.HUBSPOT:
        return HubSpotConnector(hubspot_config(connection.config, settings.hubspot))
    raise ConfigurationError(f"no connector for {connection.crm} yet")
