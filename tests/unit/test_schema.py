"""Properties of the schema that need no database: names, coverage, revision history."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Index, Table, UniqueConstraint

from service.store import Base, migrate
from service.store.tables import CrmSourced

POSTGRES_MAX_IDENTIFIER = 63


def test_models_cover_every_table_the_architecture_names():
    required = {
        "connections",
        "reps",
        "opportunities",
        "opportunity_changes",
        "activities",
        "quotas",
        "sync_state",
        "rules",
        "rule_versions",
        "findings",
        "audit_log",
    }
    assert required <= set(Base.metadata.tables)


def test_every_crm_sourced_table_keys_rows_by_connection_and_crm_id():
    crm_tables: list[Table] = []
    for mapper in Base.registry.mappers:
        if issubclass(mapper.class_, CrmSourced):
            assert isinstance(mapper.local_table, Table)
            crm_tables.append(mapper.local_table)
    assert {table.name for table in crm_tables} >= {
        "reps",
        "opportunities",
        "opportunity_changes",
        "activities",
    }
    for table in crm_tables:
        assert {"connection_id", "crm_id", "crm_modified_at", "deleted_at"} <= set(table.c.keys())
        unique_column_sets = {
            tuple(column.name for column in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        }
        assert ("connection_id", "crm_id") in unique_column_sets, table.name


def test_every_identifier_fits_postgresql_limit():
    names: list[str] = []
    for table in Base.metadata.tables.values():
        names.append(table.name)
        names += [column.name for column in table.columns]
        names += [str(index.name) for index in table.indexes]
        names += [str(constraint.name) for constraint in table.constraints if constraint.name]
    too_long = [name for name in names if len(name) > POSTGRES_MAX_IDENTIFIER]
    assert too_long == []


def test_metric_queries_have_their_indexes():
    def indexed(table: str) -> set[tuple[str, ...]]:
        return {
            tuple(column.name for column in index.columns)
            for index in Base.metadata.tables[table].indexes
            if isinstance(index, Index)
        }

    assert ("connection_id", "rep_crm_id", "occurred_at") in indexed("activities")
    assert ("connection_id", "owner_crm_id", "stage_category") in indexed("opportunities")


def test_revision_history_is_one_straight_line():
    scripts = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].down_revision is None
    assert not any(revision.is_merge_point for revision in revisions)
