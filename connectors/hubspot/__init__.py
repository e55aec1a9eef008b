"""HubSpot connector: canonical records from a HubSpot portal, coaching tasks back.

Built on hubspot-api-client over the CRM v3/v4 APIs; see :mod:`connectors.hubspot.connector`
for the read model, :mod:`connectors.hubspot.streams` for the search windows,
:mod:`connectors.hubspot.pacing` for the client-side rate limits, :mod:`connectors.hubspot.usage`
for the daily budget and :mod:`connectors.hubspot.writeback` for duplicate-free task creation.
"""

from connectors.hubspot.config import (
    HubSpotConfig,
    OAuthAuth,
    PacingPolicy,
    PrivateAppAuth,
    RetryPolicy,
)
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.errors import (
    ApiLimitReached,
    HubSpotApiError,
    HubSpotAuthError,
    HubSpotConnectorError,
    HubSpotUnavailableError,
    UncertainWriteError,
)

__all__ = [
    "ApiLimitReached",
    "HubSpotApiError",
    "HubSpotAuthError",
    "HubSpotConfig",
    "HubSpotConnector",
    "HubSpotConnectorError",
    "HubSpotUnavailableError",
    "OAuthAuth",
    "PacingPolicy",
    "PrivateAppAuth",
    "RetryPolicy",
    "UncertainWriteError",
]
