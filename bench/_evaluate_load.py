"""Loading the benchmark org into a store, the way a sync writes it.

Records go through the sync's own batch upsert (:func:`service.store.upserts.upsert`),
``batch_size`` per statement and per commit, so the store's rows, indexes and JSON are
exactly what a sync of the same org would leave; the evaluation benchmark and the tests
that check it against the metric source load the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text

from bench._common import CRM_TABLES
from bench.org_records import BenchOrg
from connectors.records import Entity
from service.evaluation.packs import default_pack_dir, load_pack
from service.store import Store
from service.store.connections import add_connection
from service.store.stored_rules import apply_rule
from service.store.tables import CrmKind
from service.store.upserts import CanonicalRecord, upsert


def load_records(
    store: Store,
    connection_id: int,
    entity: Entity,
    records: Iterable[CanonicalRecord],
    *,
    batch_size: int,
    now: datetime,
) -> int:
    """The sync's own upsert, ``batch_size`` records per statement and per commit."""
    written, batch = 0, []
    for record in records:
        batch.append(record)
        if len(batch) == batch_size:
            written += _write(store, connection_id, entity, batch, now)
            batch = []
    if batch:
        written += _write(store, connection_id, entity, batch, now)
    return written


def _write(
    store: Store, connection_id: int, entity: Entity, batch: list[CanonicalRecord], now: datetime
) -> int:
    with store.unit_of_work() as session:
        return upsert(session, connection_id, entity, batch, now=now)


def load_org(store: Store, org: BenchOrg, batch_size: int) -> tuple[int, int]:
    """Reps, quotas, deals and their history, and the default pack; returns
    (connection id, history rows)."""
    now = org.shape.end
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "bench-evaluate", CrmKind.SALESFORCE, {}).id
        for packed in load_pack(default_pack_dir()):
            apply_rule(session, packed.document.model_dump(mode="json"), actor="bench")
    load_records(store, connection_id, Entity.REP, org.reps(), batch_size=batch_size, now=now)
    load_records(store, connection_id, Entity.QUOTA, org.quotas(), batch_size=batch_size, now=now)
    changes = 0
    deals: list[CanonicalRecord] = []
    history: list[CanonicalRecord] = []
    for deal, rows in org.deals():
        deals.append(deal)
        history.extend(rows)
        if len(history) >= batch_size:
            changes += _flush_deals(
                store, connection_id, deals, history, batch_size=batch_size, now=now
            )
            deals, history = [], []
    changes += _flush_deals(store, connection_id, deals, history, batch_size=batch_size, now=now)
    return connection_id, changes


def load_whole_org(store: Store, org: BenchOrg, activities: int | None = None) -> int:
    """:func:`load_org` and the org's activities (the first ``activities``, else all);
    returns the connection id."""
    connection_id, _ = load_org(store, org, 5000)
    count = org.activity_count if activities is None else activities
    records = org.activities(0, count)
    load_records(store, connection_id, Entity.ACTIVITY, records, batch_size=5000, now=org.shape.end)
    return connection_id


def _flush_deals(
    store: Store,
    connection_id: int,
    deals: list[CanonicalRecord],
    history: list[CanonicalRecord],
    *,
    batch_size: int,
    now: datetime,
) -> int:
    load_records(store, connection_id, Entity.OPPORTUNITY, deals, batch_size=batch_size, now=now)
    return load_records(
        store, connection_id, Entity.OPPORTUNITY_CHANGE, history, batch_size=batch_size, now=now
    )


def settle(store: Store) -> None:
    """PostgreSQL: VACUUM ANALYZE the CRM tables, as autovacuum would after a bulk load."""
    if store.engine.dialect.name != "postgresql":
        return
    with store.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in CRM_TABLES:
            autocommit.execute(text(f"VACUUM ANALYZE {name}"))
