"""The mailbox directory as the service last resolved it: which mailbox directions it serves, and why not.

The running service merges the CRM's Load Data with the published bindings (``router.service.directory``)
and writes the outcome here after every refresh, so that `email-router status` can say, without a
running service, which mailboxes are served and why the others are not (not approved, another delivery
method, switched off in the profiles). Each refresh replaces the whole directory in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Row, delete, select

from router.clock import Clock
from router.state.direction import Direction
from router.state.engine import Database
from router.state.schema import mailbox_directory as T


@dataclass(frozen=True)
class DirectoryRow:
    """One mailbox direction: served or not (``reason`` says why not), with where it came from.

    ``source`` is ``crm`` (Load Data only), ``published`` (a profiles file only) or ``both``; ``role``
    is ``user``, ``queue`` or ``forward``. ``profile`` is the profile serving that direction, if any.
    """

    mailbox: str
    direction: Direction
    deployment: str
    role: str
    source: str
    served: bool
    reason: str
    profile: str | None
    crm_mailbox_id: str | None
    config_version: int
    refreshed_at: datetime

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> DirectoryRow:
        values = dict(row._mapping)
        values["direction"] = Direction(values["direction"])
        values["served"] = bool(values["served"])
        return cls(**values)


class MailboxDirectoryStore:
    """Replaces and reads the stored mailbox directory."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def replace(self, rows: Iterable[DirectoryRow]) -> None:
        """Make ``rows`` the whole directory (one transaction: readers see the old or the new one)."""
        values = [{**asdict(r), "mailbox": r.mailbox.lower(), "direction": r.direction.value} for r in rows]
        with self._db.write() as conn:
            conn.execute(delete(T))
            if values:
                conn.execute(T.insert(), values)

    def all(self) -> list[DirectoryRow]:
        """Every mailbox direction of the last refresh, by mailbox then direction."""
        with self._db.read() as conn:
            return [DirectoryRow.from_row(r) for r in conn.execute(select(T).order_by(T.c.mailbox,
                                                                                    T.c.direction))]
