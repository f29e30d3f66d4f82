"""Copy every row of one state database into another, empty one (``email-router state migrate --to``).

Both databases are first brought to the same schema revision, so the tables are the ones of
``router.state.schema`` on both sides. The copy runs in one transaction of the target: it lands whole
or not at all, and the counts are compared table by table before it commits. ``schema_meta`` is the
migrations' own record, and ``instances`` and ``lane_leases`` describe running processes: none is copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Table, func, select, text

from router.errors import StateStoreError
from router.state.engine import Database
from router.state.schema import instances, lane_leases, metadata, schema_meta

CHUNK = 1000
"""Rows read and inserted per statement: bounded memory whatever the size of a table."""

_NOT_COPIED = {schema_meta.name, instances.name, lane_leases.name}


@dataclass(frozen=True)
class CopiedTable:
    """How many rows of one table were copied."""

    table: str
    rows: int


def state_tables() -> list[Table]:
    """The tables that hold state, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in _NOT_COPIED]


def copy_state(source: Database, target: Database) -> list[CopiedTable]:
    """Copy every state row of ``source`` into the empty ``target``; refuse a target that holds state."""
    copied: list[CopiedTable] = []
    with source.read() as reading, target.write() as writing:
        _refuse_non_empty(target, writing)
        for table in state_tables():
            rows = sum(_insert(writing, table, chunk) for chunk in _chunks(reading, table))
            _check_count(target, writing, table, rows)
            _advance_sequence(target, writing, table)
            copied.append(CopiedTable(table.name, rows))
    return copied


def _refuse_non_empty(target: Database, conn: Connection) -> None:
    for table in state_tables():
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            raise StateStoreError(
                f"the state database {target.location} already holds state (table {table.name} has rows)",
                hint="migrate into a new, empty database; nothing was copied")


def _chunks(conn: Connection, table: Table) -> Iterator[list[dict[str, object]]]:
    order = list(table.primary_key.columns)
    result = conn.execution_options(yield_per=CHUNK).execute(select(table).order_by(*order))
    for partition in result.mappings().partitions(CHUNK):
        yield [dict(row) for row in partition]


def _insert(conn: Connection, table: Table, rows: list[dict[str, object]]) -> int:
    conn.execute(table.insert(), rows)
    return len(rows)


def _check_count(target: Database, conn: Connection, table: Table, expected: int) -> None:
    found = conn.execute(select(func.count()).select_from(table)).scalar_one()
    if found != expected:
        raise StateStoreError(
            f"copying {table.name} into {target.location} left {found} rows instead of {expected}",
            hint="nothing was copied; report this as a bug")


def _advance_sequence(target: Database, conn: Connection, table: Table) -> None:
    """Move a PostgreSQL id sequence past the copied ids, so new rows do not collide with them."""
    if target.is_sqlite or "id" not in table.c or not table.c.id.autoincrement:
        return
    conn.execute(text(
        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
        f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
        f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"))
