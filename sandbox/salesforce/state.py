"""Everything one fake Salesforce org holds: records, credentials, usage, open query cursors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sandbox.clock import SandboxClock
from sandbox.salesforce.auth import AuthState, ConnectedApp, Login
from sandbox.salesforce.notifications import NotificationLog
from sandbox.salesforce.record_store import RecordStore
from sandbox.salesforce.stages import STANDARD_STAGES

ORG_ID = "00D8W0000000001AAA"
#: The custom notification type the org is set up with for driftcoach's alerts.
NOTIFICATION_TYPE = "driftcoach_alert"
API_VERSIONS = ("55.0", "56.0", "57.0", "58.0", "59.0", "60.0", "61.0", "62.0")
RELEASE_LABELS = {
    "55.0": "Summer '22",
    "56.0": "Winter '23",
    "57.0": "Spring '23",
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
}


@dataclass(frozen=True)
class SalesforceCredentials:
    """What the sandbox prints for a client: every supported way to log in."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    refresh_token: str


@dataclass
class SalesforceState:
    clock: SandboxClock
    daily_allocation: int = 100_000
    session_timeout: timedelta = timedelta(hours=2)
    instance_url: str = ""  # set once the server has a port
    records: RecordStore = field(init=False)
    auth: AuthState = field(init=False)
    notifications: NotificationLog = field(init=False)

    def __post_init__(self) -> None:
        self.records = RecordStore(self.clock)
        self.auth = AuthState(
            self.clock,
            session_timeout=self.session_timeout,
            daily_allocation=self.daily_allocation,
        )
        self.integration_user_id = self.records.insert(
            "User",
            {
                "Username": "integration@driftcoach.sandbox",
                "FirstName": "Integration",
                "LastName": "User",
                "Email": "integration@driftcoach.sandbox",
                "Alias": "integ",
                "IsActive": True,
            },
            user_id="",
        )
        self.records.bulk_load(
            "OpportunityStage",
            [
                {
                    "MasterLabel": stage.name,
                    "ApiName": stage.name,
                    "IsActive": True,
                    "SortOrder": stage.sort_order,
                    "IsClosed": stage.is_closed,
                    "IsWon": stage.is_won,
                    "ForecastCategory": stage.forecast_category,
                    "ForecastCategoryName": stage.forecast_category,
                    "DefaultProbability": stage.probability,
                }
                for stage in STANDARD_STAGES
            ],
            user_id=self.integration_user_id,
        )
        self.notifications = NotificationLog(self.records)
        self.records.bulk_load(
            "CustomNotificationType",
            [
                {
                    "DeveloperName": NOTIFICATION_TYPE,
                    "MasterLabel": "driftcoach alert",
                    "CustomNotifTypeName": "driftcoach alert",
                    "Description": "A coaching finding that needs attention now",
                    "Desktop": True,
                    "Mobile": True,
                }
            ],
            user_id=self.integration_user_id,
        )

    def add_integration_credentials(self) -> SalesforceCredentials:
        """A connected app and a login for the integration user, plus a refresh token
        (as if obtained once through the web-server flow)."""
        app: ConnectedApp = self.auth.add_connected_app(self.integration_user_id)
        login: Login = self.auth.add_login(
            "integration@driftcoach.sandbox", "sandbox-password", self.integration_user_id
        )
        _, refresh = self.auth.issue(self.integration_user_id, with_refresh=True)
        if refresh is None:  # pragma: no cover - issue() always makes one when asked
            raise RuntimeError("no refresh token issued")
        return SalesforceCredentials(
            client_id=app.client_id,
            client_secret=app.client_secret,
            username=login.username,
            password=login.password,
            security_token=login.security_token,
            refresh_token=refresh,
        )
