"""Salesforce connector: canonical records from a Salesforce org, coaching tasks back.

Built on simple-salesforce over the REST API; see :mod:`connectors.salesforce.connector`
for the read model, :mod:`connectors.salesforce.usage` for the budget rule and
:mod:`connectors.salesforce.writeback` for duplicate-free task creation.
"""

from connectors.salesforce.config import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordAuth,
    RetryPolicy,
    SalesforceConfig,
    SessionAuth,
)
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.errors import (
    ApiLimitReached,
    SalesforceAuthError,
    SalesforceConnectorError,
    UncertainWriteError,
)

__all__ = [
    "ApiLimitReached",
    "ClientCredentialsAuth",
    "JwtBearerAuth",
    "PasswordAuth",
    "RetryPolicy",
    "SalesforceAuthError",
    "SalesforceConfig",
    "SalesforceConnector",
    "SalesforceConnectorError",
    "SessionAuth",
    "UncertainWriteError",
]
