"""What the HubSpot connector raises, beyond the client library's own errors.

Messages never hold credentials, tokens or request bodies: callers log them as they are.
"""

from __future__ import annotations

from connectors.base import SyncStopped


class HubSpotConnectorError(Exception):
    """Base class of the connector's own failures."""


class HubSpotAuthError(HubSpotConnectorError):
    """The token was refused, or an OAuth refresh failed."""


class HubSpotApiError(HubSpotConnectorError):
    """HubSpot refused a call for good (a 4xx other than 401/429, or 5xx after retries).

    ``category`` is HubSpot's own (``VALIDATION_ERROR``, ``OBJECT_NOT_FOUND``, ...).
    """

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(f"HubSpot answered {status} {category}: {message}".strip())
        self.status, self.category, self.message = status, category, message


class HubSpotUnavailableError(HubSpotConnectorError):
    """HubSpot did not answer (5xx, timeouts, dropped connections) however often asked."""


class ApiLimitReached(SyncStopped):
    """The daily allowance (or this run's share of it) is used up: stop, resume later."""


class UncertainWriteError(HubSpotConnectorError):
    """A write may or may not have happened (timeout, dropped connection, 5xx after the
    request was sent). The caller must look before it writes again."""
