"""Start the whole sandbox: a seeded org in a fake Salesforce and a fake HubSpot.

Used by ``driftcoach sandbox``, the demo, integration tests and benchmarks. The org is
placed in Salesforce, HubSpot, or split across both by team (the VP appears in both).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from sandbox import hubspot_seed
from sandbox.clock import SandboxClock
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.http import RunningServer
from sandbox.hubspot import HubSpotLimits, HubSpotState, build_hubspot_server
from sandbox.meter import Meter
from sandbox.org import OrgSpec, SalesOrg, generate_org
from sandbox.salesforce import seed as salesforce_seed
from sandbox.salesforce.server import build_salesforce_server
from sandbox.salesforce.state import SalesforceCredentials, SalesforceState
from sandbox.tls import make_tls

Placement = Literal["salesforce", "hubspot", "split"]


@dataclass
class SandboxOptions:
    org: OrgSpec = field(default_factory=OrgSpec)
    placement: Placement = "split"
    host: str = "127.0.0.1"
    salesforce_port: int = 0
    hubspot_port: int = 0
    hubspot_tls: bool = False  # simple-salesforce forces https; HubSpot's client does not
    data_dir: Path | None = None  # where the CA bundle goes; a temporary folder if None
    salesforce_faults: FaultConfig = field(default_factory=FaultConfig)
    hubspot_faults: FaultConfig = field(default_factory=FaultConfig)
    hubspot_limits: HubSpotLimits = field(default_factory=HubSpotLimits)
    salesforce_daily_allocation: int = 100_000


@dataclass(frozen=True)
class HubSpotCredentials:
    access_token: str
    client_id: str
    client_secret: str
    refresh_token: str


@dataclass
class SandboxInfo:
    salesforce_url: str
    hubspot_url: str
    ca_bundle: Path
    salesforce: SalesforceCredentials
    hubspot: HubSpotCredentials
    org: SalesOrg
    salesforce_ids: dict[str, str]
    hubspot_ids: dict[str, str]
    startup_seconds: float


class Sandbox:
    """Both fake CRMs on background threads. Use as a context manager or start()/stop()."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.clock = SandboxClock()
        self.salesforce_meter, self.hubspot_meter = Meter(), Meter()
        self.salesforce_faults = FaultInjector(self.options.salesforce_faults)
        self.hubspot_faults = FaultInjector(self.options.hubspot_faults)
        self._servers: list[RunningServer] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.info: SandboxInfo | None = None

    def start(self) -> SandboxInfo:
        started = time.perf_counter()
        options = self.options
        org = generate_org(options.org)
        sf_owners, hs_owners = _placement(org, options.placement)
        salesforce = SalesforceState(
            self.clock, daily_allocation=options.salesforce_daily_allocation
        )
        salesforce_ids = salesforce_seed.load_org(salesforce, org, owners=sf_owners)
        sf_credentials = salesforce.add_integration_credentials()
        hubspot = HubSpotState(self.clock)
        hubspot_ids = hubspot_seed.load_org(hubspot, org, owners=hs_owners)
        client_id, client_secret, refresh_token = hubspot.register_oauth_client()
        hs_credentials = HubSpotCredentials(
            hubspot.issue_private_app_token(), client_id, client_secret, refresh_token
        )
        tls = make_tls(self._data_dir())
        sf_server = build_salesforce_server(
            salesforce,
            host=options.host,
            port=options.salesforce_port,
            meter=self.salesforce_meter,
            faults=self.salesforce_faults,
            tls=tls.server_context,
        )
        hs_server = build_hubspot_server(
            hubspot,
            host=options.host,
            port=options.hubspot_port,
            limits=options.hubspot_limits,
            meter=self.hubspot_meter,
            faults=self.hubspot_faults,
            tls=tls.server_context if options.hubspot_tls else None,
        )
        self._servers = [RunningServer(sf_server), RunningServer(hs_server)]
        self.salesforce_state, self.hubspot_state = salesforce, hubspot
        self.info = SandboxInfo(
            salesforce_url=sf_server.url,
            hubspot_url=hs_server.url,
            ca_bundle=tls.ca_bundle,
            salesforce=sf_credentials,
            hubspot=hs_credentials,
            org=org,
            salesforce_ids=salesforce_ids,
            hubspot_ids=hubspot_ids,
            startup_seconds=time.perf_counter() - started,
        )
        return self.info

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SandboxInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _data_dir(self) -> Path:
        if self.options.data_dir is not None:
            return self.options.data_dir
        self._tmp = tempfile.TemporaryDirectory(prefix="driftcoach-sandbox-")
        return Path(self._tmp.name)


def _placement(
    org: SalesOrg, placement: Placement
) -> tuple[Collection[str] | None, Collection[str]]:
    """Which users each CRM gets: all in one, or teams alternately split between both."""
    if placement == "salesforce":
        return None, set()
    if placement == "hubspot":
        return set(), {user.id for user in org.users}
    teams = sorted(org.teams, key=lambda team: team.id)
    salesforce_teams = {team.id for team in teams[: (len(teams) + 1) // 2]}
    sf: set[str] = set()
    hs: set[str] = set()
    for user in org.users:
        team = user.team_id
        if team is None:
            continue
        (sf if team in salesforce_teams else hs).add(user.id)
    return sf, hs


def describe(info: SandboxInfo) -> dict[str, Any]:
    """What the CLI prints: where to connect and with what."""
    return {
        "salesforce": {
            "instance_url": info.salesforce_url,
            "token_url": f"{info.salesforce_url}/services/oauth2/token",
            "client_id": info.salesforce.client_id,
            "client_secret": info.salesforce.client_secret,
            "username": info.salesforce.username,
            "password": info.salesforce.password,
            "security_token": info.salesforce.security_token,
            "refresh_token": info.salesforce.refresh_token,
        },
        "hubspot": {
            "base_url": info.hubspot_url,
            "access_token": info.hubspot.access_token,
            "client_id": info.hubspot.client_id,
            "client_secret": info.hubspot.client_secret,
            "refresh_token": info.hubspot.refresh_token,
        },
        "ca_bundle": str(info.ca_bundle),
    }
