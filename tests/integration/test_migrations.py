"""The migrations build exactly the schema the models describe, both ways, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.settings import Settings
from service.store import Base, make_engine, migrate


def _tables(settings: Settings) -> set[str]:
    engine = make_engine(settings)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(settings: Settings) -> list[object]:
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


MODEL_TABLES = set(Base.metadata.tables)


def test_upgrade_then_downgrade_then_upgrade_again_ends_matching_the_models(settings: Settings):
    migrate.upgrade(settings)
    assert _tables(settings) == MODEL_TABLES | {"alembic_version"}
    assert migrate.current_revisions(settings) == (migrate.head_revision(),)

    migrate.downgrade(settings, "base")
    assert _tables(settings) - {"alembic_version"} == set()
    assert migrate.current_revisions(settings) == ()

    migrate.upgrade(settings)
    assert _tables(settings) == MODEL_TABLES | {"alembic_version"}
    assert _differences(settings) == []
    migrate.check(settings)  # what `alembic check` runs; raises on any drift
