"""Outgoing send records: one per CRM email, so that each email leaves Exchange exactly once.

The Message-ID the router puts on the email is recorded with the claim, before anything is sent::

    claimed ──► rendered ──► submitted ──► recorded      (the CRM knows it was sent)
       └───────────┴────────────┴──────► failed          (the CRM knows it failed)

After a crash at ``rendered`` or ``submitted`` Exchange may already have sent the email (the crash
can fall between the submission and its record), so a recovered claim says ``may_have_been_sent``
and the caller looks for the recorded Message-ID in Sent Items before it sends again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select
from sqlalchemy.exc import IntegrityError

from router.clock import Clock
from router.errors import ClaimLostError, StateStoreError
from router.state.claims import ClaimOutcome, ClaimPolicy, ClaimTable
from router.state.engine import Database
from router.state.keys import normalize_message_id
from router.state.schema import outgoing_sends as T


class SendStage(StrEnum):
    """Where an outgoing email stands; RECORDED and FAILED are final."""

    CLAIMED = "claimed"
    RENDERED = "rendered"
    SUBMITTED = "submitted"
    RECORDED = "recorded"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """True when nothing more will happen to the email."""
        return self in (SendStage.RECORDED, SendStage.FAILED)


@dataclass(frozen=True)
class SendRecord:
    """One CRM email as the send records know it. ``attempts`` counts claims (delivery attempts)."""

    id: int
    mailbox: str
    email_id: str
    message_id: str
    stage: SendStage
    attempts: int
    recoveries: int
    owner: str | None
    lease_until: datetime | None
    retry_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> SendRecord:
        values = dict(row._mapping)
        values["stage"] = SendStage(values["stage"])
        return cls(**values)


@dataclass(frozen=True)
class SendClaim:
    """The answer to a claim on a CRM email."""

    outcome: ClaimOutcome
    record: SendRecord
    owner: str

    @property
    def acquired(self) -> bool:
        """True when ``owner`` now holds the email and must finish or release it."""
        return self.outcome.acquired

    @property
    def message_id(self) -> str:
        """The Message-ID to send with: the one recorded at the first claim, whatever was proposed later."""
        return self.record.message_id

    @property
    def may_have_been_sent(self) -> bool:
        """True when an earlier attempt may have reached Exchange: look in Sent Items before sending."""
        return self.outcome is not ClaimOutcome.NEW and self.record.stage in (
            SendStage.RENDERED, SendStage.SUBMITTED)


class SendRecords:
    """Claims and stages of outgoing CRM emails."""

    def __init__(self, db: Database, clock: Clock, policy: ClaimPolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy or ClaimPolicy()

    def claim(self, mailbox: str, email_id: str, *, owner: str, message_id: str) -> SendClaim:
        """Claim a CRM email for ``owner``; the first claim records ``message_id`` for good."""
        normalized = normalize_message_id(message_id)
        if normalized is None:
            raise StateStoreError(f"email {email_id} was claimed without a Message-ID",
                                  hint="render a Message-ID before claiming", mailbox=mailbox)
        new = {"mailbox": mailbox, "email_id": email_id, "message_id": normalized,
               "stage": SendStage.CLAIMED.value}
        with self._db.write() as tx:
            outcome, row = _ROWS.claim(tx, (email_id,), new=new, owner=owner, now=self._clock.now(),
                                       policy=self._policy, final=lambda stage: SendStage(stage).final,
                                       clash=lambda: _message_id_taken(normalized, mailbox))
            return SendClaim(outcome, SendRecord.from_row(row), owner)

    def claim_many(self, mailbox: str, proposals: Sequence[tuple[str, str]], *,
                   owner: str) -> list[SendClaim]:
        """Claim several CRM emails of ``mailbox`` in one transaction, as ``claim`` claims each.

        ``proposals`` pairs each email id with the Message-ID its first claim records; the claims come
        back in the same order. One transaction for a batch: a crash leaves all of them claimed or none.
        """
        news = []
        for email_id, message_id in proposals:
            normalized = normalize_message_id(message_id)
            if normalized is None:
                raise StateStoreError(f"email {email_id} was claimed without a Message-ID",
                                      hint="render a Message-ID before claiming", mailbox=mailbox)
            news.append((email_id, normalized))
        now = self._clock.now()
        claims: list[SendClaim] = []
        with self._db.write() as tx:
            inserted = self._insert_fresh(tx, mailbox, news, owner=owner, now=now)
            for email_id, normalized in news:
                if email_id in inserted:
                    row = inserted.pop(email_id)
                    claims.append(SendClaim(ClaimOutcome.NEW, SendRecord.from_row(row), owner))
                    continue
                new = {"mailbox": mailbox, "email_id": email_id, "message_id": normalized,
                       "stage": SendStage.CLAIMED.value}
                outcome, row = _ROWS.claim(
                    tx, (email_id,), new=new, owner=owner, now=now, policy=self._policy,
                    final=lambda stage: SendStage(stage).final,
                    clash=partial(_message_id_taken, normalized, mailbox))
                claims.append(SendClaim(outcome, SendRecord.from_row(row), owner))
        return claims

    def _insert_fresh(self, tx: Connection, mailbox: str, news: Sequence[tuple[str, str]], *, owner: str,
                      now: datetime) -> dict[str, Row[Any]]:
        """Insert the rows of the emails of ``news`` that have none, in one statement; their rows by email id.

        A new claim was a SELECT and an INSERT per email; a batch of new emails (the common case) is
        now one SELECT and one multi-row INSERT, the rows as ``ClaimTable.claim`` inserts them. Any
        refusal (another process inserted one meanwhile, a Message-ID already used) undoes the
        statement (a savepoint) and returns nothing: ``claim_many`` then claims each email as before,
        which decides races and names a clashing Message-ID. Without a database that returns the rows
        of a multi-row INSERT, nothing is done here.
        """
        if not tx.dialect.insert_executemany_returning:
            return {}
        ids = [email_id for email_id, _ in news]
        known = set(tx.execute(select(T.c.email_id).where(T.c.email_id.in_(ids))).scalars())
        fresh: dict[str, str] = {}
        for email_id, normalized in news:
            if email_id not in known:
                fresh.setdefault(email_id, normalized)  # An id proposed twice: the later claim finds the row.
        if not fresh:
            return {}
        lease_until = now + self._policy.lease
        values = [{"mailbox": mailbox, "email_id": email_id, "message_id": normalized,
                   "stage": SendStage.CLAIMED.value, "owner": owner, "lease_until": lease_until,
                   "attempts": 1, "recoveries": 0, "created_at": now, "updated_at": now}
                  for email_id, normalized in fresh.items()]
        try:
            with tx.begin_nested():
                rows = tx.execute(_INSERT_MANY, values).all()
        except IntegrityError:
            return {}
        return {row.email_id: row for row in rows}

    def reopen(self, claim: SendClaim) -> SendClaim:
        """Claim again an email whose record FAILED, because the CRM handed it back (a user resubmitted it).

        ``claim`` is the DONE answer ``claim`` gave. The record keeps its Message-ID and goes back to
        RENDERED: an earlier attempt may have reached Exchange before the failure was recorded, so the
        caller looks in Sent Items first (``may_have_been_sent`` is True). A record that is not FAILED,
        or that another worker reopened first, comes back unchanged with outcome DONE or BUSY.
        """
        if claim.record.stage is not SendStage.FAILED:
            return claim
        now = self._clock.now()
        values = {"stage": SendStage.RENDERED.value, "finished_at": None, "last_error": None}
        with self._db.write() as tx:
            row = _ROWS.by_key(tx, claim.record.email_id)
            assert row is not None, "a claimed record is never deleted"
            if row.stage != SendStage.FAILED.value:
                return SendClaim(ClaimOutcome.BUSY, SendRecord.from_row(row), claim.owner)
            params = {"_id": row.id, "_stage": row.stage, "_old_owner": row.owner,
                      "_old_lease": row.lease_until, "owner": claim.owner,
                      "lease_until": now + self._policy.lease, "retry_at": None, "attempts": row.attempts + 1,
                      "recoveries": row.recoveries, "updated_at": now, **values}
            taken = _ROWS.update_row(tx, _ROWS.take, params)
        if taken is None:
            return SendClaim(ClaimOutcome.BUSY, claim.record, claim.owner)
        return SendClaim(ClaimOutcome.RECOVERED, SendRecord.from_row(taken), claim.owner)

    def renew(self, claim: SendClaim) -> SendClaim:
        """Extend the lease of a claim; raises ClaimLostError if it was taken over."""
        return SendClaim(claim.outcome, self._advance(claim, _OPEN, None, {}), claim.owner)

    def mark_rendered(self, claim: SendClaim) -> SendRecord:
        """The MIME is built; the next step submits it."""
        return self._advance(claim, [SendStage.CLAIMED, SendStage.RENDERED], SendStage.RENDERED, {})

    def mark_submitted(self, claim: SendClaim) -> SendRecord:
        """Exchange accepted the submission (or the Message-ID was found in Sent Items)."""
        values = {"submitted_at": self._clock.now()}
        return self._advance(claim, [SendStage.RENDERED, SendStage.SUBMITTED], SendStage.SUBMITTED, values)

    def mark_recorded(self, claim: SendClaim) -> SendRecord:
        """The CRM has marked the email Sent: the record is final."""
        return self._finish(claim, [SendStage.SUBMITTED], SendStage.RECORDED, {})

    def mark_failed(self, claim: SendClaim, reason: str) -> SendRecord:
        """The email will not be sent (a permanent error, or too many attempts): the record is final."""
        return self._finish(claim, _OPEN, SendStage.FAILED, {"last_error": reason})

    def mark_rendered_many(self, claims: Sequence[SendClaim]) -> list[SendRecord | None]:
        """``mark_rendered`` for a batch, in one transaction; None where the claim was lost."""
        return self._advance_many(claims, [SendStage.CLAIMED, SendStage.RENDERED], SendStage.RENDERED, {})

    def mark_submitted_many(self, claims: Sequence[SendClaim]) -> list[SendRecord | None]:
        """``mark_submitted`` for a batch, in one transaction; None where the claim was lost."""
        values = {"submitted_at": self._clock.now()}
        return self._advance_many(claims, [SendStage.RENDERED, SendStage.SUBMITTED], SendStage.SUBMITTED,
                                  values)

    def mark_recorded_many(self, claims: Sequence[SendClaim]) -> list[SendRecord | None]:
        """``mark_recorded`` for a batch, in one transaction; None where the claim was lost."""
        final = {"owner": None, "lease_until": None, "retry_at": None, "finished_at": self._clock.now()}
        return self._advance_many(claims, [SendStage.SUBMITTED], SendStage.RECORDED, final)

    def release_unsent(self, claims: Sequence[SendClaim], *, error: str | None = None,
                       outcome_unknown: bool = False) -> None:
        """Give back claims whose emails this worker rendered but never submitted, in one transaction.

        A claim that could not have been sent before (``may_have_been_sent`` False) goes back to
        CLAIMED, so that its next attempt does not search Sent Items for a message that never left;
        the others keep their stage. With ``outcome_unknown`` (the emails were in a request that failed
        as a whole, so Exchange may have sent them) every claim keeps its stage: the next attempt looks
        in Sent Items first. Claims lost meanwhile are left alone.
        """
        now = self._clock.now()
        with self._db.write() as tx:
            for claim in claims:
                values: dict[str, object] = {"owner": None, "lease_until": None, "retry_at": now,
                                             "last_error": error, "updated_at": now}
                if not claim.may_have_been_sent and not outcome_unknown:
                    values["stage"] = SendStage.CLAIMED.value
                _ROWS.advance_row(tx, claim.record.id, owner=claim.owner, allowed=_OPEN_VALUES, values=values)

    def release(self, claim: SendClaim, *, retry_at: datetime | None = None,
                error: str | None = None) -> SendRecord:
        """Give the claim back after a transient failure: due again from ``retry_at``."""
        values = {"owner": None, "lease_until": None, "retry_at": retry_at or self._clock.now(),
                  "last_error": error}
        return self._advance(claim, _OPEN, None, values)

    def abandon(self, owner: str) -> int:
        """Release every claim ``owner`` holds (a graceful shutdown); returns how many were released."""
        with self._db.write() as tx:
            return _ROWS.abandon(tx, owner, self._clock.now())

    def _finish(self, claim: SendClaim, allowed: list[SendStage], stage: SendStage,
                values: Mapping[str, object]) -> SendRecord:
        final = {**values, "owner": None, "lease_until": None, "retry_at": None,
                 "finished_at": self._clock.now()}
        return self._advance(claim, allowed, stage, final)

    def _advance(self, claim: SendClaim, allowed: list[SendStage], stage: SendStage | None,
                 values: Mapping[str, object]) -> SendRecord:
        now = self._clock.now()
        changes: dict[str, object] = {"lease_until": now + self._policy.lease, **values, "updated_at": now}
        if stage is not None:
            changes["stage"] = stage.value
        record = claim.record
        with self._db.write() as tx:
            row = _ROWS.advance_row(tx, record.id, owner=claim.owner, allowed=[s.value for s in allowed],
                                    values=changes)
        if row is None:
            raise ClaimLostError(
                f"the claim on CRM email {record.email_id} was taken over or finished by another worker",
                hint="nothing to do: the worker that holds it now finishes the email",
                mailbox=record.mailbox, item_id=record.email_id)
        return SendRecord.from_row(row)

    def _advance_many(self, claims: Sequence[SendClaim], allowed: list[SendStage], stage: SendStage,
                      values: Mapping[str, object]) -> list[SendRecord | None]:
        now = self._clock.now()
        changes: dict[str, object] = {"lease_until": now + self._policy.lease, **values, "updated_at": now,
                                      "stage": stage.value}
        allowed_values = [s.value for s in allowed]
        with self._db.write() as tx:  # One UPDATE (its rows share ``changes``).
            rows = _ROWS.advance_many(tx, [(claim.record.id, claim.owner, changes) for claim in claims],
                                      allowed_values)
        found = (rows.get(claim.record.id) for claim in claims)
        return [None if row is None else SendRecord.from_row(row) for row in found]

    # -- queries --------------------------------------------------------------------------------

    def by_email_id(self, email_id: str) -> SendRecord | None:
        """The record of one CRM email, if it was ever claimed."""
        with self._db.read() as conn:
            return self._select(conn, T.c.email_id == email_id)

    def by_message_id(self, message_id: str) -> SendRecord | None:
        """The record that owns a Message-ID (any spelling), if the router generated it."""
        normalized = normalize_message_id(message_id)
        with self._db.read() as conn:
            return self._select(conn, T.c.message_id == normalized)

    def pending(self, mailbox: str) -> list[SendRecord]:
        """Unfinished emails of a mailbox that are due (released, or left by a dead worker)."""
        params = {"_mailbox": mailbox, "_now": self._clock.now()}
        with self._db.read() as conn:
            return [SendRecord.from_row(r) for r in conn.execute(_PENDING, params)]

    def unfinished_count(self, mailbox: str) -> int:
        """How many emails of the mailbox are claimed but not yet recorded or failed."""
        query = select(func.count()).select_from(T).where(T.c.mailbox == mailbox, T.c.stage.in_(_OPEN_VALUES))
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _select(conn: Connection, where: ColumnElement[bool]) -> SendRecord | None:
        row = conn.execute(select(T).where(where)).first()
        return None if row is None else SendRecord.from_row(row)


_ROWS = ClaimTable(T, ("email_id",))
_INSERT_MANY = T.insert().returning(*T.c)
"""New claims of a batch in one statement, their rows returned."""


def _message_id_taken(message_id: str, mailbox: str) -> StateStoreError:
    """The error of a claim refused because its Message-ID is recorded for another email."""
    return StateStoreError(f"Message-ID {message_id} is already recorded for another email",
                           hint="Message-IDs must be unique: check the Message-ID generator", mailbox=mailbox)
_OPEN = [SendStage.CLAIMED, SendStage.RENDERED, SendStage.SUBMITTED]
_OPEN_VALUES = [s.value for s in _OPEN]
_PENDING = _ROWS.due_of_mailbox(_OPEN_VALUES)
"""``pending``'s statement, built once (every idle sweep of every outgoing lane asks it)."""
