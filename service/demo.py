"""``driftcoach demo``: the whole cycle on a throwaway SQLite store, for a first look.

For now the cycle is: start the CRM sandbox with a seeded org split across Salesforce and
HubSpot, summarise it, stop it; then create and migrate a fresh store and report what it
holds. Later steps (sync, evaluation, write-back) plug in here as they land.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, inspect, select

from connectors.sandbox.org import OrgSpec
from connectors.sandbox.runner import Sandbox, SandboxOptions
from service.sandbox import org_summary
from service.settings import Settings
from service.store import Base, Store, make_engine, migrate


def run(settings: Settings, path: Path, *, as_of: date | None = None) -> str:
    """Run the demo cycle with a fresh store at ``path`` (replacing any old one)."""
    spec = OrgSpec(as_of=as_of or date.today())  # noqa: DTZ011 - the org ends "today" locally
    with Sandbox(SandboxOptions(org=spec, placement="split")) as info:
        crm = (
            f"sandbox: Salesforce at {info.salesforce_url}, HubSpot at {info.hubspot_url}"
            f" (started in {info.startup_seconds:.1f}s)\n{org_summary(info)}"
        )
    return crm + "\n\n" + _fresh_store(settings, path)


def _fresh_store(settings: Settings, path: Path) -> str:
    path = path.resolve()
    _remove_sqlite_files(path)
    demo_settings = settings.model_copy(update={"database_url": f"sqlite:///{path}"})
    migrate.upgrade(demo_settings)
    store = Store(make_engine(demo_settings))
    try:
        return _describe(store, demo_settings)
    finally:
        store.dispose()


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _describe(store: Store, settings: Settings) -> str:
    present = set(inspect(store.engine).get_table_names())
    lines = [f"demo store: {settings.sqlalchemy_url.database}", "", f"{'table':<22} rows"]
    with store.unit_of_work() as session:
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                lines.append(f"{table.name:<22} MISSING")
                continue
            count = session.scalar(select(func.count()).select_from(table))
            lines.append(f"{table.name:<22} {count}")
    revision = migrate.current_revisions(settings)
    lines += ["", f"schema revision: {', '.join(revision)} (head {migrate.head_revision()})"]
    return "\n".join(lines)
