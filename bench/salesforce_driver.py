"""The Salesforce benchmark's own client: it counts and changes what the measured sync reads.

It signs in with the sandbox's client credentials, as the sync does, but in the driver's
process and before the sandbox's meter is reset, so none of its calls count against the
sync. Counting goes through ``SELECT COUNT()`` in the scope each stream reads; changing
goes through sObject Collections, the way an integration edits records in bulk.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from simple_salesforce.api import Salesforce

from bench._common import tls_session
from bench._sync_run import live_ids, sample
from connectors.salesforce import SalesforceConfig
from connectors.salesforce.streams import SPECS, StreamSpec, soql_datetime
from service.store import Store
from service.store.tables import Activity

API_VERSION = "59.0"
COLLECTION_SIZE = 200  # sObject Collections' limit per call
TASK_KEY_PREFIX = "00T"  # Salesforce's key prefix of Task ids
TASK_SUBJECT = "Bench follow-up"
OPPORTUNITY_NEXT_STEP = "Bench: re-quoted"


@dataclass(frozen=True)
class StreamCount:
    """The sandbox's own count of one stream's rows."""

    stream: str
    sobject: str
    present: bool
    in_scope: int  # what a first sync must read
    total: int  # every row of the object, deleted ones included where queryAll applies
    future: int  # rows stamped after the sandbox's clock


def salesforce_client(details: dict[str, Any]) -> Salesforce:
    """The driver's own client (client credentials), for counting and changing records."""
    credentials = details["salesforce"]
    session = tls_session(details["ca_bundle"])
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
    }
    response = session.post(credentials["token_url"], data=form, timeout=60)
    response.raise_for_status()
    grant = response.json()
    return Salesforce(
        instance_url=grant["instance_url"],
        session_id=grant["access_token"],
        session=session,
        version=API_VERSION,
    )


def _count(sf: Salesforce, spec: StreamSpec, where: str = "") -> int:
    # simple-salesforce's query_all() overwrites totalSize with len(records), 0 for
    # COUNT(): ask query() directly, through queryAll when the stream reads deleted rows.
    soql = f"SELECT COUNT() FROM {spec.sobject}{where}"  # noqa: S608 - declared names
    answer = cast(dict[str, Any], sf.query(soql, include_deleted=spec.query_all))
    return int(answer["totalSize"])


def count_streams(sf: Salesforce, now: datetime) -> list[StreamCount]:
    """Per stream: rows in the first sync's scope, all rows, and future-stamped rows."""
    described = cast(dict[str, Any], sf.describe())
    objects = {str(entry["name"]) for entry in described["sobjects"]}
    window = now - timedelta(days=SalesforceConfig.model_fields["history_days"].default)
    counts = []
    for spec in SPECS:
        if spec.optional and spec.sobject not in objects:
            counts.append(StreamCount(spec.stream.name, spec.sobject, False, 0, 0, 0))
            continue
        scope = f" WHERE SystemModstamp >= {soql_datetime(window)}" if spec.bounded else ""
        counts.append(
            StreamCount(
                spec.stream.name,
                spec.sobject,
                True,
                in_scope=_count(sf, spec, scope),
                total=_count(sf, spec),
                future=_count(sf, spec, f" WHERE SystemModstamp > {soql_datetime(now)}"),
            )
        )
    return counts


def count_changed(sf: Salesforce, since: datetime, counts: Iterable[StreamCount]) -> dict[str, int]:
    """Rows per stream stamped at or after ``since``, by the sandbox's own count."""
    present = {count.stream for count in counts if count.present}
    where = f" WHERE SystemModstamp >= {soql_datetime(since)}"
    return {
        spec.stream.name: _count(sf, spec, where) for spec in SPECS if spec.stream.name in present
    }


def change_records(
    sf: Salesforce, store: Store, connection_id: int, share: float, seed: int
) -> dict[str, int]:
    """Change ``share`` of the stored tasks (Subject) and opportunities (Amount, NextStep)
    through sObject Collections; returns how many of each the API accepted."""
    rng = random.Random(seed)
    tasks, opportunities = live_ids(
        store, connection_id, Activity.crm_id.startswith(TASK_KEY_PREFIX)
    )
    chosen_tasks = sample(rng, tasks, share)
    chosen_opportunities = sample(rng, sorted(opportunities), share)
    task_updates = [
        {"attributes": {"type": "Task"}, "Id": crm_id, "Subject": f"{TASK_SUBJECT} {i}"}
        for i, crm_id in enumerate(chosen_tasks)
    ]
    opportunity_updates = [
        {
            "attributes": {"type": "Opportunity"},
            "Id": crm_id,
            "Amount": float(opportunities[crm_id] or 0) + 1000.0,
            "NextStep": OPPORTUNITY_NEXT_STEP,
        }
        for crm_id in chosen_opportunities
    ]
    return {
        "Task": _patch_collections(sf, task_updates),
        "Opportunity": _patch_collections(sf, opportunity_updates),
    }


def _patch_collections(sf: Salesforce, updates: list[dict[str, Any]]) -> int:
    """PATCH composite/sobjects, 200 records a call; returns the records updated."""
    updated = 0
    for start in range(0, len(updates), COLLECTION_SIZE):
        body = {"allOrNone": False, "records": updates[start : start + COLLECTION_SIZE]}
        results = cast(
            list[dict[str, Any]], sf.restful("composite/sobjects", method="PATCH", json=body)
        )
        updated += sum(1 for result in results if result.get("success"))
    return updated
