"""The HubSpot endpoints the connector uses, each one call through :class:`HubSpotClient`.

Every function returns the decoded JSON of one answer. Bodies are plain dicts (the
generated clients serialise dicts as they are), and endpoint names are the canonical
paths, so the usage counters line up with the sandbox's meter.

Limits, as documented and as the sandbox enforces them: list pages hold 100 objects, 50
with ``propertiesWithHistory``; batch read and create take 100 inputs, batch read with
property history 50 ("The maximum number of inputs supported in a batch request for
property histories is 50"); search pages hold 200; v4 association batch reads take 1,000
ids; owner pages hold 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.hubspot.client import HubSpotClient, Json
from connectors.hubspot.pacing import Lane
from connectors.hubspot.sdk import Apis

LIST_LIMIT, HISTORY_LIMIT, BATCH_LIMIT, SEARCH_LIMIT = 100, 50, 100, 200
ASSOCIATION_BATCH_LIMIT, OWNERS_LIMIT = 1000, 500
DEALS = "deals"


def list_page(
    client: HubSpotClient,
    object_type: str,
    *,
    after: str | None,
    properties: Sequence[str],
    history: Sequence[str] = (),
    archived: bool = False,
) -> Json:
    """``GET /crm/v3/objects/{type}``: one page in id order, ``paging.next.after`` next."""
    limit = HISTORY_LIMIT if history else LIST_LIMIT
    options: dict[str, Any] = {"limit": limit, "properties": list(properties)}
    if after is not None:
        options["after"] = after
    if history:
        options["properties_with_history"] = list(history)
    if archived:
        options["archived"] = True

    def send(apis: Apis) -> Any:
        return apis.objects.get_page(
            object_type, **options, _preload_content=False, _request_timeout=apis.timeout
        )

    return client.call(f"GET /crm/v3/objects/{object_type}", send)


def search(
    client: HubSpotClient, object_type: str, body: dict[str, Any], *, budgeted: bool = True
) -> Json:
    """``POST /crm/v3/objects/{type}/search``: a read, so retried like one."""

    def send(apis: Apis) -> Any:
        return apis.search.do_search(
            object_type, body, _preload_content=False, _request_timeout=apis.timeout
        )

    endpoint = f"POST /crm/v3/objects/{object_type}/search"
    return client.call(endpoint, send, lane=Lane.SEARCH, budgeted=budgeted)


def batch_read(
    client: HubSpotClient,
    object_type: str,
    ids: Sequence[str],
    *,
    properties: Sequence[str],
    history: Sequence[str] = (),
    budgeted: bool = True,
) -> Json:
    body: dict[str, Any] = {
        "inputs": [{"id": object_id} for object_id in ids],
        "properties": list(properties),
    }
    if history:
        body["propertiesWithHistory"] = list(history)

    def send(apis: Apis) -> Any:
        return apis.batch.read(
            object_type, body, _preload_content=False, _request_timeout=apis.timeout
        )

    return client.call(f"POST /crm/v3/objects/{object_type}/batch/read", send, budgeted=budgeted)


def batch_create(client: HubSpotClient, object_type: str, inputs: Sequence[dict[str, Any]]) -> Json:
    """A create: resent only when it certainly never arrived; not counted in a sync's share."""
    body = {"inputs": list(inputs)}

    def send(apis: Apis) -> Any:
        return apis.batch.create(
            object_type, body, _preload_content=False, _request_timeout=apis.timeout
        )

    return client.call(
        f"POST /crm/v3/objects/{object_type}/batch/create", send, idempotent=False, budgeted=False
    )


def batch_update(client: HubSpotClient, object_type: str, inputs: Sequence[dict[str, Any]]) -> Json:
    """An update by id: idempotent (the same values twice leave the same object), so
    resent on an unknown outcome; not counted in a sync's share."""
    body = {"inputs": list(inputs)}

    def send(apis: Apis) -> Any:
        return apis.batch.update(
            object_type, body, _preload_content=False, _request_timeout=apis.timeout
        )

    return client.call(f"POST /crm/v3/objects/{object_type}/batch/update", send, budgeted=False)


def deal_associations(client: HubSpotClient, from_type: str, ids: Sequence[str]) -> Json:
    """``POST /crm/v4/associations/{from}/deals/batch/read`` for up to 1,000 ids."""
    body = {"inputs": [{"id": object_id} for object_id in ids]}

    def send(apis: Apis) -> Any:
        return apis.associations.get_page(
            from_type, DEALS, body, _preload_content=False, _request_timeout=apis.timeout
        )

    name = "/crm/v4/associations/{objectType}/{toObjectType}/batch/read"
    return client.call(f"POST {name}", send)


def owners_page(client: HubSpotClient, *, after: str | None, archived: bool) -> Json:
    options: dict[str, Any] = {"limit": OWNERS_LIMIT, "archived": archived}
    if after is not None:
        options["after"] = after

    def send(apis: Apis) -> Any:
        return apis.owners.get_page(
            **options, _preload_content=False, _request_timeout=apis.timeout
        )

    return client.call("GET /crm/v3/owners", send)


def deal_pipelines(client: HubSpotClient) -> Json:
    def send(apis: Apis) -> Any:
        return apis.pipelines.get_all(DEALS, _preload_content=False, _request_timeout=apis.timeout)

    return client.call("GET /crm/v3/pipelines/{objectType}", send)
