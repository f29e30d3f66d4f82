"""Recording what became of an email: in the CRM, in the send records, in alerts and metrics.

Sent: the CRM email becomes Sent with our Message-ID and the send time, then the send record is made
final; the checkpoint hook hears of both steps. Failed: the CRM counts the attempt and notes the
reason on the email (Pending Send again, or Failed when the failure is permanent or the attempts are
used up), the send record follows the CRM, and a mailbox alert is raised when the failure calls for
one. If the CRM cannot be told, the send record's claim is released before the error goes up, so the
next run (or ``recover.finish_submitted``) picks the email up at once instead of after a lease.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from router.crm.codes import EmailStatus
from router.crm.gateway import AttemptResult, CrmGateway, SentEmail
from router.errors import CrmError
from router.pipeline.outgoing.failures import MAILBOX_ALERTS, Failure
from router.pipeline.outgoing.steps import Checkpoint, Step
from router.runtime.metrics import Metrics
from router.state import SendClaim, StateStore

log = logging.getLogger(__name__)


class Recorder:
    """Records outcomes for one mailbox's lane."""

    def __init__(self, gateway: CrmGateway, store: StateStore, metrics: Metrics, checkpoint: Checkpoint, *,
                 mailbox: str, max_attempts: int) -> None:
        self._gateway = gateway
        self._store = store
        self._metrics = metrics
        self._checkpoint = checkpoint
        self._mailbox = mailbox
        self._max_attempts = max_attempts

    def sent(self, claim: SendClaim, sent_on: datetime) -> None:
        """The email left Exchange: tell the CRM (Sent, Message-ID, time), then finish the send record."""
        email_id = claim.record.email_id
        try:
            self._gateway.mark_sent(email_id, claim.message_id, sent_on)
        except CrmError as exc:
            self._store.sends.release(claim, error=f"recording Sent in the CRM failed: {exc.message}")
            raise
        self._checkpoint(Step.MARKED_SENT, email_id)
        self._store.sends.mark_recorded(claim)
        self._checkpoint(Step.FINISHED, email_id)
        self._metrics.sent(self._mailbox)
        log.info("email %s sent as %s", email_id, claim.message_id, extra={"mailbox": self._mailbox})

    def sent_many(self, sent: Sequence[tuple[SendClaim, datetime]]) -> list[SendClaim]:
        """``sent`` for a batch: one CRM request marks them Sent, one transaction makes the records final.

        Returns the claims whose records are final; a claim another worker took over meanwhile is left
        to it (logged). If the CRM cannot be told, every claim is released before the error goes up.
        """
        if not sent:
            return []
        try:
            self._gateway.mark_sent_many([SentEmail(claim.record.email_id, claim.message_id, sent_on)
                                          for claim, sent_on in sent])
        except CrmError as exc:
            for claim, _ in sent:
                self._store.sends.release(claim, error=f"recording Sent in the CRM failed: {exc.message}")
            raise
        for claim, _ in sent:
            self._checkpoint(Step.MARKED_SENT, claim.record.email_id)
        records = self._store.sends.mark_recorded_many([claim for claim, _ in sent])
        finished = []
        for (claim, _), record in zip(sent, records, strict=True):
            email_id = claim.record.email_id
            if record is None:
                log.warning("the claim on CRM email %s was taken over by another worker after it was sent; "
                            "that worker records it", email_id, extra={"mailbox": self._mailbox})
                continue
            self._checkpoint(Step.FINISHED, email_id)
            self._metrics.sent(self._mailbox)
            log.info("email %s sent as %s", email_id, claim.message_id, extra={"mailbox": self._mailbox})
            finished.append(claim)
        return finished

    def sent_before(self, claim: SendClaim) -> None:
        """The CRM handed back an email recorded as sent long ago: say Sent again, send nothing."""
        record = claim.record
        log.info("email %s was sent as %s already; recording it as Sent in the CRM again",
                 record.email_id, record.message_id, extra={"mailbox": self._mailbox})
        self._gateway.mark_sent(record.email_id, record.message_id, record.submitted_at or record.updated_at)

    def failed(self, email_id: str, claim: SendClaim | None, failure: Failure) -> AttemptResult:
        """Count a failed attempt in the CRM, settle the send record to match, raise the alert if any."""
        try:
            result = self._gateway.record_failed_attempt(
                email_id, failure.reason, permanent=failure.permanent, max_attempts=self._max_attempts)
        except CrmError:
            if claim is not None:
                self._store.sends.release(claim, error=failure.reason)
            raise
        if claim is not None and result.status is EmailStatus.FAILED:
            self._store.sends.mark_failed(claim, failure.reason)
        elif claim is not None:
            self._store.sends.release(claim, error=failure.reason)
        if failure.alert is not None:
            text = f"outgoing email {email_id} of {self._mailbox} failed: {failure.reason}"
            self._store.alerts.raise_alert(failure.alert, text, mailbox=self._mailbox)
        self._metrics.send_failed(self._mailbox, failure.label)
        level = logging.WARNING if failure.transient else logging.ERROR
        log.log(level, "email %s: attempt %d failed, now %s: %s", email_id, result.attempts,
                result.status.label, failure.reason, extra={"mailbox": self._mailbox})
        return result

    def mailbox_works(self) -> None:
        """An email went out: resolve the mailbox-level alerts a failure had raised."""
        for alert in self._store.alerts.open_alerts(self._mailbox):
            if alert.kind in MAILBOX_ALERTS:
                self._store.alerts.resolve(alert.kind, mailbox=self._mailbox,
                                           resolution="the mailbox sends again")
