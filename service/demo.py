"""``driftcoach demo``: the whole cycle on a throwaway SQLite store, for a first look.

For now the cycle is: create a fresh store, migrate it, and report what it holds. Later
steps (sandbox CRM, sync, evaluation, write-back) plug in here as they land.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, inspect, select

from service.settings import Settings
from service.store import Base, Store, make_engine, migrate


def run(settings: Settings, path: Path) -> str:
    """Build the demo store at ``path`` (replacing any old one) and describe it."""
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
