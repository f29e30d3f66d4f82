"""The plain updates (PATCH bodies) the router makes to e-mail and mailbox rows, shared by both gateways.

Dynamics has no Web API message for "mark sent", "count a failed attempt" or "record a mailbox test":
the legacy router updated the rows. Both gateways write exactly these columns, so the embedded CRM and a
real one end up in the same state.
"""

from __future__ import annotations

from datetime import datetime

from router.crm.codes import EmailStatus, MailboxTestStatus
from router.crm.gateway import MailboxTestResult
from router.errors import bounded


def status_values(status: EmailStatus) -> dict[str, object]:
    """The statecode/statuscode pair of ``status``."""
    return {"statecode": int(status.state), "statuscode": int(status)}


def sent_values(message_id: str, sent_on: datetime) -> dict[str, object]:
    """A successful send: Sent, the router's Message-ID, when it went out."""
    return {
        **status_values(EmailStatus.SENT),
        "messageid": message_id,
        "senton": sent_on,
        "actualend": sent_on,
    }


def attempt_values(attempts: int, status: EmailStatus, attempted_on: datetime) -> dict[str, object]:
    """A failed attempt: the new count, Pending Send or Failed, and when it was tried."""
    return {**status_values(status), "deliveryattempts": attempts, "deliverylastattemptedon": attempted_on}


def claim_values(claimed_on: datetime) -> dict[str, object]:
    """A claim: Sending since ``claimed_on``."""
    return {**status_values(EmailStatus.SENDING), "deliverylastattemptedon": claimed_on}


def mailbox_test_values(result: MailboxTestResult) -> dict[str, object]:
    """A Test Access result: both statuses, completion time, enabled for what succeeded."""
    return {
        "incomingemailstatus": int(result.incoming),
        "outgoingemailstatus": int(result.outgoing),
        "testemailconfigurationscheduled": False,
        "testmailboxaccesscompletedon": result.completed_on,
        "enabledforincomingemail": result.incoming is MailboxTestStatus.SUCCESS,
        "enabledforoutgoingemail": result.outgoing is MailboxTestStatus.SUCCESS,
    }


def mailbox_error_values(
    message: str, code: int | None, occurred_on: datetime, count: int
) -> dict[str, object]:
    """A mailbox's last error (bounded: a server's text must not fill the CRM) and the new error count."""
    return {
        "lastsyncerror": bounded(message),
        "lastsyncerrorcode": code,
        "lastsyncerroroccurredon": occurred_on,
        "lastsyncerrorcount": count,
    }


CLEARED_MAILBOX_ERROR: dict[str, object] = {
    "lastsyncerror": None,
    "lastsyncerrorcode": None,
    "lastsyncerrorcount": 0,
}
