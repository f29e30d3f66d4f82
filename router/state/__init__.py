"""The router's own state store (SQLAlchemy Core; SQLite by default, PostgreSQL-ready).

Open it with ``StateStore.open(url, clock)`` or ``StateStore.open_home(home, clock)``; its attributes
are the stores: ``ledger``, ``sync``, ``trail``, ``quarantine``, ``sends``, ``health``, ``alerts``,
``traffic``, ``directory``. Writes that belong together take a ``tx`` from ``store.db.write()``.
"""

from router.state.alerts import NO_MAILBOX, Alert, Alerts, AlertStatus, Notice, PendingNotice
from router.state.claims import ClaimOutcome, ClaimPolicy
from router.state.direction import Direction
from router.state.directory import DirectoryRow, MailboxDirectoryStore
from router.state.engine import Database, sqlite_url
from router.state.health import HealthChange, HealthStatus, MailboxHealth, MailboxHealthStore
from router.state.keys import derive_message_key, normalize_message_id
from router.state.ledger import IncomingLedger, LedgerClaim, LedgerEntry, LedgerStage
from router.state.quarantine import Quarantine, QuarantineEntry, QuarantineStatus
from router.state.sends import SendClaim, SendRecord, SendRecords, SendStage
from router.state.store import StateStore
from router.state.sync import SyncStates
from router.state.traffic import Traffic, TrafficCounts
from router.state.trail import Decision, DecisionTrail, TrailRow

__all__ = [
    "NO_MAILBOX", "Alert", "AlertStatus", "Alerts", "ClaimOutcome", "ClaimPolicy", "Database", "Decision",
    "DecisionTrail", "Direction", "DirectoryRow", "HealthChange", "HealthStatus", "IncomingLedger",
    "LedgerClaim", "LedgerEntry", "LedgerStage", "MailboxDirectoryStore", "MailboxHealth",
    "MailboxHealthStore", "Notice", "PendingNotice", "Quarantine", "QuarantineEntry", "QuarantineStatus",
    "SendClaim", "SendRecord", "SendRecords", "SendStage", "StateStore", "SyncStates", "Traffic",
    "TrafficCounts", "TrailRow", "derive_message_key", "normalize_message_id", "sqlite_url",
]
