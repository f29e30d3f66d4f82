"""The state store: one database and the stores that share it, opened and closed together.

``StateStore.open(url, clock)`` is the one way in. A home directory's default is
``StateStore.open_home(home, clock)``: the SQLite file ``state.sqlite`` in the home.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import URL

from router.clock import Clock
from router.home import Home, create_private
from router.state.alerts import Alerts
from router.state.claims import ClaimPolicy
from router.state.directory import MailboxDirectoryStore
from router.state.engine import POOL_SIZE, Database, sqlite_url
from router.state.health import MailboxHealthStore
from router.state.instances import InstanceRegistry
from router.state.ledger import IncomingLedger
from router.state.migrate import prepare_schema
from router.state.quarantine import Quarantine
from router.state.sends import SendRecords
from router.state.sync import SyncStates
from router.state.traffic import Traffic
from router.state.trail import DecisionTrail


class StateStore:
    """The router's own state: ledger, sync states, decision trail, quarantine, sends, health, alerts,
    and the mailbox directory the service last resolved.

    Safe to share between the threads of one process; several processes may open the same SQLite
    file. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, db: Database, clock: Clock, policy: ClaimPolicy | None = None, *,
                 upgrade: bool | None = None) -> None:
        self.db = db
        self.clock = clock
        # The embedded SQLite home upgrades in place; a shared PostgreSQL database only on request.
        prepare_schema(db, upgrade=db.is_sqlite if upgrade is None else upgrade)
        self.ledger = IncomingLedger(db, clock, policy)
        self.sync = SyncStates(db, clock)
        self.trail = DecisionTrail(db, clock)
        self.quarantine = Quarantine(db, clock, self.ledger)
        self.sends = SendRecords(db, clock, policy)
        self.health = MailboxHealthStore(db, clock)
        self.alerts = Alerts(db, clock)
        self.traffic = Traffic(db, clock)
        self.directory = MailboxDirectoryStore(db, clock)
        self.instances = InstanceRegistry(db, clock)

    @classmethod
    def open(cls, url: str | URL, clock: Clock, *, policy: ClaimPolicy | None = None,
             synchronous: str = "NORMAL", pool_size: int = POOL_SIZE,
             upgrade: bool | None = None) -> StateStore:
        """Open (creating if needed) the state database at a SQLAlchemy URL.

        ``upgrade``: migrate an older schema in place (default: on SQLite only).
        """
        db = Database(url, synchronous=synchronous, pool_size=pool_size)
        try:
            return cls(db, clock, policy, upgrade=upgrade)
        except BaseException:
            db.dispose()
            raise

    @classmethod
    def open_home(cls, home: Home, clock: Clock, *, policy: ClaimPolicy | None = None,
                  upgrade: bool | None = None) -> StateStore:
        """Open the default SQLite state database of a home directory."""
        # Created 0600 before SQLite opens it; SQLite gives -wal and -shm the database file's mode.
        return cls.open(sqlite_url(create_private(home.state_db)), clock, policy=policy, upgrade=upgrade)

    def close(self) -> None:
        """Close every database connection."""
        self.db.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
