"""The e-mail-enabled record types of the embedded CRM, in Dynamics' party-resolution order.

``RECORD_TYPES`` says for each type its table, display-name column, e-mail columns and how to tell
an active row; party resolution, the CLI and the facade all read it from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)

from router.crm.embedded.lookups import is_memoized, remember, remembered
from router.crm.embedded.rows import key_column, rowid
from router.crm.embedded.schema import account, contact, email, lead, queue, systemuser
from router.crm.gateway import RecordRef


@dataclass(frozen=True)
class RecordType:
    """How one e-mail-enabled table is searched and shown."""

    logical_name: str
    table: Table
    name_column: str
    email_columns: tuple[str, ...]

    @property
    def key(self) -> str:
        """The primary-key column."""
        return key_column(self.table)

    def active(self) -> ColumnElement[bool]:
        """The condition an active (enabled) row meets."""
        if self.table is systemuser:
            return systemuser.c.isdisabled == false()
        return self.table.c.statecode == 0


_EMAILS = ("emailaddress1", "emailaddress2", "emailaddress3")

#: Dynamics resolves an address to the first match in this order: user, contact, account, lead, queue.
RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("systemuser", systemuser, "fullname", ("internalemailaddress",)),
    RecordType("contact", contact, "fullname", _EMAILS),
    RecordType("account", account, "name", _EMAILS),
    RecordType("lead", lead, "fullname", _EMAILS),
    RecordType("queue", queue, "name", ("emailaddress",)),
)

BY_NAME = {t.logical_name: t for t in RECORD_TYPES}

#: Records that count as internal senders for ``ignoreinternalemail``.
INTERNAL_TYPES = frozenset({"systemuser", "queue"})
#: Records whose mail the "leads, contacts and accounts" filter accepts.
CUSTOMER_TYPES = frozenset({"contact", "account", "lead"})


def record_type(logical_name: str) -> RecordType:
    """Return the record type called ``logical_name`` or raise KeyError naming the known ones."""
    try:
        return BY_NAME[logical_name]
    except KeyError:
        raise KeyError(f"unknown record type {logical_name!r}; known: {', '.join(BY_NAME)}") from None


def resolve_address(conn: Connection, address: str) -> RecordRef | None:
    """Return the first active record whose e-mail address is ``address``, in resolution order.

    One statement, built once, asks every record type at once (``_RESOLVE``); each e-mail column has
    an index on its lower-cased value (``schema``), so a lookup costs the same whatever the
    number of contacts, accounts and leads.
    """
    wanted = address.strip().lower()
    if not wanted:
        return None
    return remembered(conn, "record", wanted, lambda: _resolve(conn, wanted))


def _resolve(conn: Connection, wanted: str) -> RecordRef | None:
    row = conn.execute(_RESOLVE, {"wanted": wanted}).first()
    if row is None:
        return None
    return RecordRef(RECORD_TYPES[row.rank].logical_name, row.id, row.name or "")


def _candidates(rank: int, kind: RecordType) -> Select[Any]:
    table = kind.table
    matches = or_(*(func.lower(table.c[c]) == bindparam("wanted") for c in kind.email_columns))
    return select(literal(rank).label("rank"), table.c[kind.key].label("id"),
                  table.c[kind.name_column].label("name"), table.c.createdon.label("createdon"),
                  rowid(table).label("position")).where(matches, kind.active())


_RESOLVE = union_all(*(_candidates(rank, kind) for rank, kind in enumerate(RECORD_TYPES))).order_by(
    "rank", "createdon", "position").limit(1)
"""Every active record with the address, best first: by type in resolution order, then the oldest."""


def resolve_all(conn: Connection, addresses: Iterable[str]) -> None:
    """``resolve_address`` for each of ``addresses`` at once, in one statement, remembered in the
    ``memoized`` scope the caller opened (a batch: its later lookups are then answered from it).

    Each row of ``_RESOLVE_MANY`` is one record having one of the addresses in one e-mail column; the best
    per address (type in resolution order, then the oldest) is the row ``_RESOLVE`` would find alone.
    """
    wanted = sorted({a.strip().lower() for a in addresses} - {""})
    if not wanted or not is_memoized(conn):
        return
    best: dict[str, tuple[tuple[int, object, int], RecordRef]] = {}
    for row in conn.execute(_RESOLVE_MANY, {"wanted": wanted}):
        order = (row.rank, row.createdon, row.position)
        if row.address not in best or order < best[row.address][0]:
            ref = RecordRef(RECORD_TYPES[row.rank].logical_name, row.id, row.name or "")
            best[row.address] = (order, ref)
    remember(conn, "record", {address: best[address][1] if address in best else None for address in wanted})


def _any_of(rank: int, kind: RecordType, column: str) -> Select[Any]:
    table = kind.table
    address = func.lower(table.c[column])
    return select(literal(rank).label("rank"), address.label("address"), table.c[kind.key].label("id"),
                  table.c[kind.name_column].label("name"), table.c.createdon.label("createdon"),
                  rowid(table).label("position")).where(
        address.in_(bindparam("wanted", expanding=True)), kind.active())


_RESOLVE_MANY = union_all(*(_any_of(rank, kind, column) for rank, kind in enumerate(RECORD_TYPES)
                            for column in kind.email_columns))
"""Every active record having any of the wanted addresses, once per e-mail column that has it."""


def describe(conn: Connection, logical_name: str | None, record_id: str | None) -> RecordRef | None:
    """Return a RecordRef with the display name of ``logical_name``/``record_id``, or None."""
    if not logical_name or not record_id:
        return None
    if logical_name == "email":
        subject = conn.execute(select(email.c.subject).where(email.c.activityid == record_id)).scalar()
        return RecordRef("email", record_id, subject or "")
    kind = BY_NAME.get(logical_name)
    if kind is None:
        return RecordRef(logical_name, record_id)
    name = conn.execute(
        select(kind.table.c[kind.name_column]).where(kind.table.c[kind.key] == record_id)
    ).scalar()
    return RecordRef(logical_name, record_id, name or "")
