"""What the Salesforce connector raises, beyond the client library's own errors.

Messages never hold credentials, tokens or request bodies: callers log them as they are.
"""

from __future__ import annotations

from connectors.base import SyncStopped


class SalesforceConnectorError(Exception):
    """Base class of the connector's own failures."""


class SalesforceAuthError(SalesforceConnectorError):
    """Logging in failed, or a session died that cannot be renewed."""


class ApiLimitReached(SyncStopped):
    """The org's allocation (or this run's share of it) is used up: stop, resume later."""


class UncertainWriteError(SalesforceConnectorError):
    """A write may or may not have happened (timeout, dropped connection, 5xx after the
    request was sent). The caller must look before it writes again."""


class QueryCursorLostError(SalesforceConnectorError):
    """A query cursor is gone (idle for 15 minutes, or freed when its last page was
    served and that response was lost): the query must be restarted."""
