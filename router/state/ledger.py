"""The incoming ledger: which messages of which mailbox reached which stage, so each is delivered once.

One row per (mailbox, message key). A worker claims the row before it touches the message, then
moves it forward one committed step at a time::

    claimed ──► delivered ──► acknowledged
       │            │
       ├──► screened│            (final stages: nothing more to do)
       └────────────┴──► quarantined

A crash anywhere leaves the row at the last committed stage with a lease that runs out; the next
claim (RECOVERED) resumes from that stage. In particular a row at ``delivered`` carries the CRM
activity id, so recovery acknowledges on the server without delivering to the CRM a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from router.clock import Clock
from router.errors import ClaimLostError
from router.state.claims import UNREAD, ClaimOutcome, ClaimPolicy, ClaimTable, Unread
from router.state.engine import Database
from router.state.keys import normalize_message_id
from router.state.schema import incoming_ledger as T


class LedgerStage(StrEnum):
    """Where a message stands; the last three are final."""

    CLAIMED = "claimed"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    SCREENED = "screened"
    QUARANTINED = "quarantined"

    @property
    def final(self) -> bool:
        """True when nothing more will happen to the message."""
        return self in (LedgerStage.ACKNOWLEDGED, LedgerStage.SCREENED, LedgerStage.QUARANTINED)


@dataclass(frozen=True)
class LedgerEntry:
    """One message of one mailbox as the ledger knows it."""

    id: int
    mailbox: str
    message_key: str
    internet_message_id: str | None
    item_id: str | None
    stage: LedgerStage
    activity_id: str | None
    attempts: int
    recoveries: int
    owner: str | None
    lease_until: datetime | None
    retry_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> LedgerEntry:
        values = dict(row._mapping)
        values["stage"] = LedgerStage(values["stage"])
        return cls(**values)


@dataclass(frozen=True)
class LedgerClaim:
    """The answer to a claim: the outcome, the row as it now is, and who asked."""

    outcome: ClaimOutcome
    entry: LedgerEntry
    owner: str

    @property
    def acquired(self) -> bool:
        """True when ``owner`` now holds the message and must finish or release it."""
        return self.outcome.acquired


class IncomingLedger:
    """Claims and stages of incoming messages, per mailbox.

    ``owner`` names one worker of one process run (for example ``host:pid:start:lane``): a new run must
    use new owners, so that claims left by a crashed run count as recoveries when taken over.
    """

    def __init__(self, db: Database, clock: Clock, policy: ClaimPolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy or ClaimPolicy()

    # -- claiming -------------------------------------------------------------------------------

    def claim(self, mailbox: str, message_key: str, *, owner: str, item_id: str | None = None,
              internet_message_id: str | None = None) -> LedgerClaim:
        """Claim a message for ``owner``; see ``ClaimOutcome`` for what each answer asks of the caller."""
        with self._db.write() as tx:
            return self._claim(tx, mailbox, message_key, owner=owner, item_id=item_id,
                               internet_message_id=internet_message_id)

    @contextmanager
    def batch(self) -> Iterator[LedgerBatch]:
        """One write transaction for the claims of a fetched batch (``LedgerBatch``): committed together
        when the block ends, rolled back (no claim made) if it raises."""
        with self._db.write() as tx:
            yield LedgerBatch(self, tx)

    def _claim(self, tx: Connection, mailbox: str, message_key: str, *, owner: str, item_id: str | None,
               internet_message_id: str | None, current: Row[Any] | Unread | None = UNREAD) -> LedgerClaim:
        new = {"mailbox": mailbox, "message_key": message_key, "item_id": item_id,
               "internet_message_id": normalize_message_id(internet_message_id),
               "stage": LedgerStage.CLAIMED.value}
        outcome, row = _ROWS.claim(tx, (mailbox, message_key), new=new, owner=owner,
                                   now=self._clock.now(), policy=self._policy, final=_final,
                                   values={"item_id": item_id} if item_id else {}, current=current)
        return LedgerClaim(outcome, LedgerEntry.from_row(row), owner)

    def renew(self, claim: LedgerClaim) -> LedgerClaim:
        """Extend the lease of a claim that is taking long; raises ClaimLostError if it was taken over."""
        entry = self._advance(claim, _OPEN, None, {})
        return LedgerClaim(claim.outcome, entry, claim.owner)

    # -- finishing steps ------------------------------------------------------------------------

    def mark_delivered(self, claim: LedgerClaim, activity_id: str, *,
                       tx: Connection | None = None) -> LedgerEntry:
        """Record that the CRM created ``activity_id`` for the message (commit this before acknowledging)."""
        values = {"activity_id": activity_id, "delivered_at": self._clock.now()}
        return self._advance(claim, [LedgerStage.CLAIMED], LedgerStage.DELIVERED, values, tx=tx)

    def mark_delivered_all(self, done: Sequence[tuple[LedgerClaim, str]], *, tx: Connection) -> None:
        """``mark_delivered`` for a batch of (claim, activity id), in one statement where the database
        allows; raises ``ClaimLostError`` (the transaction must then be rolled back) as it does."""
        now = self._clock.now()
        steps = [(claim, {"activity_id": activity_id, "delivered_at": now}) for claim, activity_id in done]
        self._advance_all(steps, [LedgerStage.CLAIMED], LedgerStage.DELIVERED, tx)

    def mark_acknowledged_all(self, done: Sequence[tuple[LedgerClaim, str | None]], *,
                              tx: Connection) -> None:
        """``mark_acknowledged`` for a batch of (claim, item id after a move or None), as above."""
        now = self._clock.now()
        final = {"owner": None, "lease_until": None, "retry_at": None, "finished_at": now}
        self._advance_all([(claim, {**({"item_id": item_id} if item_id else {}), **final})
                           for claim, item_id in done], [LedgerStage.DELIVERED], LedgerStage.ACKNOWLEDGED, tx)

    def _advance_all(self, steps: Sequence[tuple[LedgerClaim, Mapping[str, object]]],
                     allowed: list[LedgerStage], stage: LedgerStage, tx: Connection) -> None:
        """``_advance`` for many claims in one statement (``ClaimTable.advance_many``); the first lost
        claim raises its ``ClaimLostError`` naming the message (the transaction must be rolled back)."""
        now = self._clock.now()
        rows = [(claim.entry.id, claim.owner,
                 {"lease_until": now + self._policy.lease, **values, "updated_at": now, "stage": stage.value})
                for claim, values in steps]
        moved = _ROWS.advance_many(tx, rows, [s.value for s in allowed])
        lost = next((claim.entry for claim, _ in steps if claim.entry.id not in moved), None)
        if lost is not None:
            raise _lost(lost)

    def mark_acknowledged(self, claim: LedgerClaim, *, item_id: str | None = None,
                          tx: Connection | None = None) -> LedgerEntry:
        """Record that the message was acknowledged on the server; ``item_id`` is its id after a move."""
        values = {"item_id": item_id} if item_id else {}
        return self._finish(claim, [LedgerStage.DELIVERED], LedgerStage.ACKNOWLEDGED, values, tx)

    def mark_screened(self, claim: LedgerClaim, *, tx: Connection | None = None) -> LedgerEntry:
        """Record that screening kept the message away from the CRM (an auto-reply, a loop, a bounce)."""
        return self._finish(claim, [LedgerStage.CLAIMED], LedgerStage.SCREENED, {}, tx)

    def mark_quarantined(self, claim: LedgerClaim, *, reason: str | None = None,
                         tx: Connection | None = None) -> LedgerEntry:
        """Record that the message was quarantined (pass the quarantine's ``tx`` to commit both at once)."""
        return self._finish(claim, _OPEN, LedgerStage.QUARANTINED, {"last_error": reason}, tx)

    def release(self, claim: LedgerClaim, *, retry_at: datetime | None = None, error: str | None = None,
                tx: Connection | None = None) -> LedgerEntry:
        """Give the claim back unfinished (a transient failure): due again from ``retry_at``."""
        values = {"owner": None, "lease_until": None, "retry_at": retry_at or self._clock.now(),
                  "last_error": error}
        return self._advance(claim, _OPEN, None, values, tx=tx)

    def _finish(self, claim: LedgerClaim, allowed: list[LedgerStage], stage: LedgerStage,
                values: Mapping[str, object], tx: Connection | None) -> LedgerEntry:
        final = {**values, "owner": None, "lease_until": None, "retry_at": None,
                 "finished_at": self._clock.now()}
        return self._advance(claim, allowed, stage, final, tx=tx)

    def _advance(self, claim: LedgerClaim, allowed: list[LedgerStage], stage: LedgerStage | None,
                 values: Mapping[str, object], *, tx: Connection | None = None) -> LedgerEntry:
        now = self._clock.now()
        changes: dict[str, object] = {"lease_until": now + self._policy.lease, **values, "updated_at": now}
        if stage is not None:
            changes["stage"] = stage.value
        entry = claim.entry
        with self._db.joined(tx) as conn:
            row = _ROWS.advance_row(conn, entry.id, owner=claim.owner, allowed=[s.value for s in allowed],
                                    values=changes)
        if row is None:
            raise _lost(entry)
        return LedgerEntry.from_row(row)

    def reopen(self, mailbox: str, message_key: str, *, tx: Connection | None = None) -> LedgerEntry | None:
        """Make a quarantined message claimable again (an admin's retry), keeping its CRM activity.

        A message quarantined after delivery goes back to ``delivered`` so the retry only acknowledges
        it; one quarantined before goes back to ``claimed``. Returns None if it was not quarantined.
        """
        with self._db.joined(tx) as conn:
            row = self._select(conn, mailbox, message_key)
            if row is None or row.stage is not LedgerStage.QUARANTINED:
                return None
            stage = LedgerStage.DELIVERED if row.activity_id else LedgerStage.CLAIMED
            now = self._clock.now()
            conn.execute(update(T).where(T.c.id == row.id).values(
                stage=stage.value, owner=None, lease_until=None, retry_at=now, recoveries=0,
                finished_at=None, updated_at=now))
            return self._select(conn, mailbox, message_key)

    def abandon(self, owner: str) -> int:
        """Release every claim ``owner`` holds (a graceful shutdown); returns how many were released."""
        with self._db.write() as tx:
            return _ROWS.abandon(tx, owner, self._clock.now())

    # -- queries --------------------------------------------------------------------------------

    def get(self, mailbox: str, message_key: str) -> LedgerEntry | None:
        """Return one message's row, or None if the ledger has never seen it."""
        with self._db.read() as conn:
            return self._select(conn, mailbox, message_key)

    def find_by_message_id(self, message_id: str) -> list[LedgerEntry]:
        """Every mailbox's row for one Internet Message-ID (any spelling), oldest first."""
        normalized = normalize_message_id(message_id)
        with self._db.read() as conn:
            rows = conn.execute(select(T).where(T.c.internet_message_id == normalized).order_by(T.c.id))
            return [LedgerEntry.from_row(r) for r in rows]

    def finished_keys(self, mailbox: str, message_keys: Iterable[str]) -> set[str]:
        """Which of ``message_keys`` (normalised Message-IDs) of ``mailbox`` are at a final stage: a
        transport that reports a message again after our own acknowledgement (Graph's delta) skips
        these before fetching their MIME."""
        keys = sorted(set(message_keys))
        if not keys:
            return set()
        final = [s.value for s in LedgerStage if s.final]
        query = select(T.c.message_key).where(T.c.mailbox == mailbox, T.c.message_key.in_(keys),
                                              T.c.stage.in_(final))
        with self._db.read() as conn:
            return {str(key) for key in conn.execute(query).scalars()}

    def pending(self, mailbox: str) -> list[LedgerEntry]:
        """Unfinished messages of a mailbox that are due: released ones whose retry time has come and
        ones whose worker died (lease run out). The lane re-fetches these by item id after a restart,
        because SyncFolderItems will not report them again."""
        params = {"_mailbox": mailbox, "_now": self._clock.now()}
        with self._db.read() as conn:
            return [LedgerEntry.from_row(r) for r in conn.execute(_PENDING, params)]

    def unfinished_count(self, mailbox: str) -> int:
        """How many messages of the mailbox are claimed or delivered but not yet finished."""
        query = select(func.count()).select_from(T).where(T.c.mailbox == mailbox, T.c.stage.in_(_OPEN_VALUES))
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _select(conn: Connection, mailbox: str, message_key: str) -> LedgerEntry | None:
        row = _ROWS.by_key(conn, mailbox, message_key)
        return None if row is None else LedgerEntry.from_row(row)

    @staticmethod
    def _row(conn: Connection, mailbox: str, message_key: str) -> Row[Any] | None:
        return _ROWS.by_key(conn, mailbox, message_key)


class LedgerBatch:
    """Reads and claims inside one write transaction (``IncomingLedger.batch``).

    A fetched batch claims all its messages at once: one transaction instead of one per message. Each
    read sees the claims made before it in the same transaction, so a second item of the batch with the
    message key of a first one finds the first one's row, exactly as it would after the first one's
    own commit (``pipeline.incoming.ledger_keys``).

    A row read by ``get`` is remembered until the batch claims it, so the claim that follows a read of
    the same key does not select the row a second time (nothing but this transaction's own claims can
    change it meanwhile on SQLite; on PostgreSQL a row inserted by another process since is found by the
    claim's refused insert, as it is after the claim's own select).
    """

    def __init__(self, ledger: IncomingLedger, tx: Connection) -> None:
        self._ledger = ledger
        self._tx = tx
        self._read: dict[tuple[str, str], Row[Any] | None] = {}

    def get(self, mailbox: str, message_key: str) -> LedgerEntry | None:
        """Return one message's row as this transaction sees it, or None."""
        row = self._ledger._row(self._tx, mailbox, message_key)
        self._read[(mailbox, message_key)] = row
        return None if row is None else LedgerEntry.from_row(row)

    def claim(self, mailbox: str, message_key: str, *, owner: str, item_id: str | None = None,
              internet_message_id: str | None = None) -> LedgerClaim:
        """``IncomingLedger.claim`` inside the batch's transaction."""
        current = self._read.pop((mailbox, message_key), UNREAD)
        return self._ledger._claim(self._tx, mailbox, message_key, owner=owner, item_id=item_id,
                                   internet_message_id=internet_message_id, current=current)


def _lost(entry: LedgerEntry) -> ClaimLostError:
    return ClaimLostError(
        f"the claim on message {entry.message_key} was taken over or finished by another worker",
        hint="nothing to do: the worker that holds it now finishes the message",
        mailbox=entry.mailbox, item_id=entry.item_id)


def _final(stage: str) -> bool:
    return LedgerStage(stage).final


_ROWS = ClaimTable(T, ("mailbox", "message_key"))
_OPEN = [LedgerStage.CLAIMED, LedgerStage.DELIVERED]
_OPEN_VALUES = [s.value for s in _OPEN]
_PENDING = _ROWS.due_of_mailbox(_OPEN_VALUES)
"""``pending``'s statement, built once (every idle sweep of every incoming lane asks it)."""
