"""The HubSpot benchmark's own app: it counts and changes what the measured sync reads.

It signs in as the sandbox's OAuth app, not the sync's private app, so its calls never use
the sync's ten-second window (HubSpot counts that per app); only the search limit (per
account) and the daily allowance are shared, and the benchmark lets a second pass before
it starts a sync. It goes through the connector's own client for pacing and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from connectors.hubspot import HubSpotConfig, OAuthAuth
from connectors.hubspot import api as hubspot_api
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.sdk import Apis
from connectors.hubspot.streams import SPECS, millis

DELETABLE = [spec.object_type for spec in SPECS if spec.deletable]
ENGAGEMENTS = [spec.object_type for spec in SPECS if spec.kind is not None]
BATCH = 100


class Driver:
    def __init__(self, client: HubSpotClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, details: dict[str, Any]) -> Driver:
        auth = OAuthAuth(
            client_id=details["client_id"],
            client_secret=SecretStr(details["client_secret"]),
            refresh_token=SecretStr(details["refresh_token"]),
        )
        return cls(HubSpotClient(HubSpotConfig(auth=auth, base_url=details["base_url"])))

    def close(self) -> None:
        self.client.close()

    def counts(self, window_start: datetime) -> dict[str, int]:
        """What a first sync must read: owners, live deals, engagements changed since
        ``window_start`` (its ``history_days`` window); and what each archive holds."""
        counts = {
            "owners": self._owners(archived=False),
            "owners archived": self._owners(archived=True),
            "deals": self._total("deals", None),
        }
        for name in ENGAGEMENTS:
            counts[name] = self._total(name, window_start)
        for name in DELETABLE:
            counts[f"{name} archived"] = self._archived(name)
        return counts

    def changed(self, since: datetime) -> dict[str, int]:
        """Objects per stream the sandbox stamped at or after ``since``."""
        return {name: self._total(name, since) for name in DELETABLE}

    def update(
        self, object_type: str, ids: Sequence[str], values: Callable[[str], dict[str, str]]
    ) -> int:
        """Batch updates of 100; returns how many objects HubSpot updated."""
        updated = 0
        for start in range(0, len(ids), BATCH):
            inputs = [{"id": i, "properties": values(i)} for i in ids[start : start + BATCH]]

            def send(apis: Apis, body: dict[str, Any] = {"inputs": inputs}) -> Any:  # noqa: B006
                return apis.batch.update(
                    object_type, body, _preload_content=False, _request_timeout=apis.timeout
                )

            answer = self.client.call(f"POST /crm/v3/objects/{object_type}/batch/update", send)
            updated += len(answer.get("results") or [])
        return updated

    def _total(self, object_type: str, since: datetime | None) -> int:
        filters = [] if since is None else [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": millis(since)}
        ]  # fmt: skip
        body = {"filterGroups": [{"filters": filters}] if filters else [], "limit": 1}
        return int(hubspot_api.search(self.client, object_type, body).get("total") or 0)

    def _owners(self, *, archived: bool) -> int:
        count, after = 0, None
        while True:
            page = hubspot_api.owners_page(self.client, after=after, archived=archived)
            count += len(page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return count

    def _archived(self, object_type: str) -> int:
        count, after = 0, None
        while True:
            page = hubspot_api.list_page(
                self.client, object_type, after=after, properties=(), archived=True
            )
            count += len(page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return count
