"""Mailbox health written back to the CRM's mailbox record, as server-side sync and the legacy router did.

Three writes, through the deployment's ``CrmGateway``:

* ``status``: the incoming / outgoing status (Not Run, Success, Failure) with ``record_mailbox_test``,
  which also enables the mailbox for each direction that succeeds and disables it for one that fails;
  the other direction keeps the status last written here, else the one Load Data read. A status the
  CRM already shows (written here, else read by Load Data) is not written again, so a restarted
  router's first pass over thousands of healthy mailboxes asks the CRM nothing. ``status_soon``
  holds a status for the next ``flush`` instead (a first pass's Successes): the held mailboxes of a
  deployment are written with one ``record_mailbox_tests`` (one transaction of the embedded CRM), both
  directions of a mailbox in one result, so a first pass over 10,000 new mailboxes costs a few CRM
  calls instead of 20,000 on the lanes' workers;
* ``error``: the last error and its count (``lastsyncerror``, ``lastsyncerrorcount``);
* ``clear``: the last error cleared after a success.

Only mailboxes the CRM listed (they have a CRM mailbox id) are written. A CRM that cannot be written to
is logged and skipped: the router's own state store stays the record of health, and the next change is
written again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial

from router.clock import Clock
from router.config.profile import Direction
from router.crm.codes import MailboxTestStatus
from router.crm.gateway import CrmGateway, MailboxTestResult
from router.errors import RouterError
from router.service.directory import CrmSource, DirectoryView

log = logging.getLogger(__name__)

FLUSH_CHUNK = 500
"""Mailboxes per ``record_mailbox_tests`` call of a flush."""


class CrmMailboxStatus:
    """Writes mailbox status and errors to the CRM; thread-safe."""

    def __init__(self, source: CrmSource, clock: Clock) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._written: dict[tuple[str, Direction], MailboxTestStatus] = {}
        self._mailbox_locks: dict[str, threading.Lock] = {}
        self._held: dict[str, DirectoryView] = {}
        """Mailboxes (lower case) with a status held for ``flush``, and the view it was given with."""
        self._flush_lock = threading.Lock()

    def status(self, view: DirectoryView, mailbox: str, direction: Direction,
               status: MailboxTestStatus) -> bool:
        """Write ``direction``'s status of ``mailbox``; True when the CRM took it."""
        target = self._target(view, mailbox)
        if target is None:
            return False
        gateway, mailbox_id = target
        # The two lanes of a mailbox write the same row, each carrying the other's status: composing and
        # writing under one per-mailbox lock keeps an older composition from landing after a newer one.
        with self._mailbox_lock(mailbox):
            with self._lock:
                if self._known(view, mailbox, direction) is status:
                    return True  # The CRM shows it already (a restart: Load Data read Success).
                self._written[(mailbox.lower(), direction)] = status
                incoming = self._known(view, mailbox, Direction.INCOMING)
                outgoing = self._known(view, mailbox, Direction.OUTGOING)
                self._held.pop(mailbox.lower(), None)  # This write carries the held status too.
            result = MailboxTestResult(mailbox_id, incoming, outgoing, self._clock.now())
            return self._write(mailbox, "status", lambda: gateway.record_mailbox_test(result))

    def status_soon(self, view: DirectoryView, mailbox: str, direction: Direction,
                    status: MailboxTestStatus) -> None:
        """Hold ``direction``'s status of ``mailbox`` for the next ``flush`` (see the module docstring)."""
        with self._lock:
            if self._known(view, mailbox, direction) is status:
                return
            self._written[(mailbox.lower(), direction)] = status
            self._held[mailbox.lower()] = view

    def flush(self) -> int:
        """Write the held statuses, one ``record_mailbox_tests`` per deployment; the mailboxes written.

        A batch the CRM refuses is written mailbox by mailbox, so one mailbox that cannot be written
        (gone from the CRM) does not hold back the others; failures are logged, as ``status``'s are.
        While another thread flushes, this one returns at once (0) and leaves the rest to the next.
        """
        if not self._flush_lock.acquire(blocking=False):
            return 0  # Another thread is flushing; what was held since waits for the next flush.
        try:
            with self._lock:
                held, self._held = self._held, {}
            mailboxes = sorted(held)
            # In chunks: a chunk's mailboxes are locked while it is written (one PATCH each on
            # Dynamics), so a lane's own status write waits for one chunk at most.
            return sum(self._flush_chunk({m: held[m] for m in mailboxes[start:start + FLUSH_CHUNK]})
                       for start in range(0, len(mailboxes), FLUSH_CHUNK))
        finally:
            self._flush_lock.release()

    def _flush_chunk(self, held: dict[str, DirectoryView]) -> int:
        with self._locked(sorted(held)):
            batches: dict[int, tuple[CrmGateway, list[tuple[str, MailboxTestResult]]]] = {}
            for mailbox, view in held.items():
                target = self._target(view, mailbox)
                if target is None:
                    continue
                gateway, mailbox_id = target
                with self._lock:
                    incoming = self._known(view, mailbox, Direction.INCOMING)
                    outgoing = self._known(view, mailbox, Direction.OUTGOING)
                result = MailboxTestResult(mailbox_id, incoming, outgoing, self._clock.now())
                batches.setdefault(id(gateway), (gateway, []))[1].append((mailbox, result))
            return sum(self._write_batch(gateway, batch) for gateway, batch in batches.values())

    def _write_batch(self, gateway: CrmGateway, batch: Sequence[tuple[str, MailboxTestResult]]) -> int:
        try:
            gateway.record_mailbox_tests([result for _, result in batch])
        except RouterError as exc:
            log.info("writing the statuses of %d mailboxes at once failed (%s); writing them one by one",
                     len(batch), exc)
            return sum(self._write(mailbox, "status", partial(gateway.record_mailbox_test, result))
                       for mailbox, result in batch)
        return len(batch)

    @contextmanager
    def _locked(self, mailboxes: Sequence[str]) -> Iterator[None]:
        """Hold the per-mailbox locks of ``mailboxes`` (taken in sorted order: ``status`` holds one at
        most, so no two holders wait for each other)."""
        with ExitStack() as stack:
            for mailbox in mailboxes:
                stack.enter_context(self._mailbox_lock(mailbox))
            yield

    def error(self, view: DirectoryView, mailbox: str, message: str, code: str | None) -> bool:
        """Write the mailbox's last error (counted by the CRM); True when the CRM took it."""
        target = self._target(view, mailbox)
        if target is None:
            return False
        gateway, mailbox_id = target
        text = f"{message} ({code})" if code else message
        numeric = int(code) if code is not None and code.isdigit() else None
        now = self._clock.now()
        return self._write(mailbox, "last error", lambda: gateway.record_mailbox_error(
            mailbox_id, text, occurred_on=now, code=numeric))

    def clear(self, view: DirectoryView, mailbox: str) -> bool:
        """Clear the mailbox's last error; True when the CRM took it."""
        target = self._target(view, mailbox)
        if target is None:
            return False
        gateway, mailbox_id = target
        return self._write(mailbox, "cleared error", lambda: gateway.clear_mailbox_error(mailbox_id))

    def _mailbox_lock(self, mailbox: str) -> threading.Lock:
        with self._lock:
            return self._mailbox_locks.setdefault(mailbox.lower(), threading.Lock())

    def _known(self, view: DirectoryView, mailbox: str, direction: Direction) -> MailboxTestStatus:
        written = self._written.get((mailbox.lower(), direction))
        if written is not None:
            return written
        info = view.info(mailbox)
        if info is None:
            return MailboxTestStatus.NOT_RUN
        return info.incoming_status if direction is Direction.INCOMING else info.outgoing_status

    def _target(self, view: DirectoryView, mailbox: str) -> tuple[CrmGateway, str] | None:
        info = view.info(mailbox)
        if info is None:
            return None
        assignment = view.assignment(mailbox)
        deployment = assignment.deployment if assignment is not None else None
        if deployment is None:
            entry = next((e for e in view.roster.entries if e.mailbox.lower() == mailbox.lower()), None)
            deployment = entry.deployment if entry is not None else None
        if deployment is None:
            return None
        try:
            return self._source(view.config, deployment), info.mailbox_id
        except RouterError as exc:
            log.warning("the CRM of deployment %r cannot be reached to record mailbox %s: %s", deployment,
                        mailbox, exc, extra={"mailbox": mailbox})
            return None

    @staticmethod
    def _write(mailbox: str, what: str, call: Callable[[], None]) -> bool:
        try:
            call()
        except RouterError as exc:
            log.warning("the %s of mailbox %s could not be written to the CRM: %s", what, mailbox, exc,
                        extra={"mailbox": mailbox})
            return False
        return True
