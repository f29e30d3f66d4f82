"""Row helpers every embedded-CRM module uses: new ids, audited inserts and versioned updates."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, RowMapping, Table, literal_column, select
from sqlalchemy import update as sql_update

from router.crm.codes import ErrorCode
from router.errors import CrmConcurrencyError, CrmPermanentError, CrmRecordNotFoundError


def new_id() -> str:
    """Return a new record id (a lower-case GUID, as Dynamics prints them)."""
    return str(uuid.uuid4())


def key_column(table: Table) -> str:
    """Return the name of the table's single primary-key column."""
    return next(iter(table.primary_key.columns)).name


def rowid(table: Table) -> ColumnElement[int]:
    """The SQLite rowid of ``table``: insertion order, the tie-breaker when timestamps are equal."""
    return literal_column(f"{table.name}.rowid")


def insert(conn: Connection, table: Table, values: Mapping[str, Any], now: datetime) -> str:
    """Insert one audited row (createdon, modifiedon, versionnumber 1); return its id."""
    row = {key_column(table): new_id(), **values, "createdon": now, "modifiedon": now, "versionnumber": 1}
    conn.execute(_insert_of(table), row)
    return str(row[key_column(table)])


def insert_many(
    conn: Connection, table: Table, values: Sequence[Mapping[str, Any]], now: datetime
) -> list[str]:
    """``insert`` for several rows of the same columns in one statement (``executemany``); their ids."""
    key = key_column(table)
    audit = {"createdon": now, "modifiedon": now, "versionnumber": 1}
    batch = [{key: new_id(), **row, **audit} for row in values]
    if batch:
        conn.execute(_insert_of(table), batch)
    return [str(row[key]) for row in batch]


@functools.cache
def _insert_of(table: Table) -> Insert:
    """The table's INSERT, built once (its compiled form is then cached per set of columns given)."""
    return table.insert()


def get(conn: Connection, table: Table, record_id: str) -> RowMapping | None:
    """Return the row with id ``record_id``, or None."""
    key = table.c[key_column(table)]
    return conn.execute(select(table).where(key == record_id)).mappings().first()


def require(conn: Connection, table: Table, record_id: str) -> RowMapping:
    """Return the row with id ``record_id`` or raise CrmRecordNotFoundError naming it."""
    row = get(conn, table, record_id)
    if row is None:
        raise CrmRecordNotFoundError(
            f"{table.name} With Id = {record_id} Does Not Exist",
            code=ErrorCode.RECORD_NOT_FOUND,
            item_id=record_id,
            hint="the record was deleted or the id is wrong; skip it",
        )
    return row


def update(
    conn: Connection,
    table: Table,
    record_id: str,
    values: Mapping[str, Any],
    now: datetime,
    *,
    if_version: int | None = None,
) -> int:
    """Update one row, bump its version and return the new version.

    With ``if_version`` the update applies only if the row is still at that version (an ``If-Match``);
    otherwise CrmConcurrencyError is raised and nothing changes.
    """
    key = table.c[key_column(table)]
    stmt = sql_update(table).where(key == record_id)
    if if_version is not None:
        stmt = stmt.where(table.c.versionnumber == if_version)
    stmt = stmt.values(**values, modifiedon=now, versionnumber=table.c.versionnumber + 1)
    if conn.execute(stmt).rowcount == 0:
        require(conn, table, record_id)
        raise CrmConcurrencyError(
            f"{table.name} {record_id} was changed by someone else (version is no longer {if_version})",
            code=ErrorCode.CONCURRENCY_MISMATCH,
            item_id=record_id,
            hint="re-read the record and retry",
        )
    return int(require(conn, table, record_id)["versionnumber"])


def invalid(message: str, *, hint: str, item_id: str | None = None) -> CrmPermanentError:
    """Return the error the CRM raises for a request it refuses (HTTP 400 on the Web API)."""
    return CrmPermanentError(message, code=ErrorCode.INVALID_ARGUMENT, hint=hint, item_id=item_id)


def delete(conn: Connection, table: Table, record_id: str) -> None:
    """Delete one row, or raise CrmRecordNotFoundError naming it."""
    require(conn, table, record_id)
    conn.execute(table.delete().where(table.c[key_column(table)] == record_id))
