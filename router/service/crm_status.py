"""Mailbox health written back to the CRM's mailbox record, as server-side sync and the legacy router did.

Three writes, through the deployment's ``CrmGateway``:

* ``status``: the incoming / outgoing status (Not Run, Success, Failure) with ``record_mailbox_test``,
  which also enables the mailbox for each direction that succeeds and disables it for one that fails;
  the other direction keeps the status last written here, else the one Load Data read. A status the
  CRM already shows (written here, else read by Load Data) is not written again, so a restarted
  router's first pass over thousands of healthy mailboxes asks the CRM nothing;
* ``error``: the last error and its count (``lastsyncerror``, ``lastsyncerrorcount``);
* ``clear``: the last error cleared after a success.

Only mailboxes the CRM listed (they have a CRM mailbox id) are written. A CRM that cannot be written to
is logged and skipped: the router's own state store stays the record of health, and the next change is
written again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from router.clock import Clock
from router.config.profile import Direction
from router.crm.codes import MailboxTestStatus
from router.crm.gateway import CrmGateway, MailboxTestResult
from router.errors import RouterError
from router.service.directory import CrmSource, DirectoryView

log = logging.getLogger(__name__)


class CrmMailboxStatus:
    """Writes mailbox status and errors to the CRM; thread-safe."""

    def __init__(self, source: CrmSource, clock: Clock) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._written: dict[tuple[str, Direction], MailboxTestStatus] = {}
        self._mailbox_locks: dict[str, threading.Lock] = {}

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
            result = MailboxTestResult(mailbox_id, incoming, outgoing, self._clock.now())
            return self._write(mailbox, "status", lambda: gateway.record_mailbox_test(result))

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
