"""Submit a rendered email to Exchange, through the mailbox of the user or queue it is from.

One request shape serves every profile, because ``connection_spec`` has already turned the profile
into an account on the right mailbox (reference: ews-notes §2.2, §2.3):

* **User Specified**: the user's own credentials on their own mailbox; From is the owner.
* **Other Specified, Administrator, Send As or Delegate**: the service account opens the user's
  mailbox with delegate access (Full Access). The item is created in the user's mailbox with
  ``From`` = the user, and Exchange checks the account's right on the user *at submission*: Send As
  gives From = Sender = user; Send On Behalf gives From = user, Sender = the account ("on behalf of");
  neither gives ErrorSendAsDenied. The client cannot choose: a profile that says Send As for an account
  that only holds Send On Behalf sends "on behalf of" (``send_right.detect_send_right`` finds out).
* **Impersonation**: the account acts as the user in the user's mailbox; the user is the owner.

In every case the request is ``CreateItem`` with ``MessageDisposition="SendAndSaveCopy"`` and
``SavedItemFolderId`` = the Sent Items of the mailbox the account opened, i.e. the user's: the copy is
where the user looks for it, and where recovery looks for our Message-ID after a crash. The MIME goes
as ``MimeContent``; Bcc recipients go beside it as ``BccRecipients`` so that the MIME never names them.
"""

from __future__ import annotations

import logging
from email.utils import formataddr
from typing import Any

from exchangelib import Mailbox, Message

from router.errors import TransportError
from router.ews.errors import ews_errors
from router.mailbox.session import MailboxSession
from router.pipeline.outgoing.render import RenderedMessage
from router.runtime.lane_lease import ensure_lease

log = logging.getLogger(__name__)

_IMPORTANCE = {"low": "Low", "normal": "Normal", "high": "High"}


def submit(account: Any, rendered: RenderedMessage, *, mailbox: str, item_id: str) -> None:
    """Send ``rendered`` and save the copy in the mailbox's Sent Items; errors are router errors.

    ``account`` is an exchangelib Account, or a transport's ``MailboxSession`` (Graph), which sends the
    MIME as it is: Bcc recipients then travel as a Bcc header, which Exchange removes before delivery.
    """
    if isinstance(account, MailboxSession):
        mime = with_bcc(rendered)
        ensure_lease()  # Over Graph too: a paused instance must not send for a lane it lost.
        account.send_mime(mime)
        return
    bcc = [Mailbox(email_address=party.address, name=party.name or None) for party in rendered.bcc]
    importance = _IMPORTANCE.get((rendered.header("Importance") or "normal").lower(), "Normal")
    with ews_errors(mailbox=mailbox, item_id=item_id):
        message = Message(account=account, folder=account.sent, mime_content=rendered.mime,
                          bcc_recipients=bcc or None, importance=importance)
        ensure_lease()  # Right before the side effect: a paused instance must not send for a lost lane.
        message.send_and_save()


def with_bcc(rendered: RenderedMessage) -> bytes:
    """The rendered MIME with a Bcc header naming ``rendered.bcc`` (none: the MIME unchanged); a name
    that is not ASCII is RFC 2047-encoded, one address a line."""
    if not rendered.bcc:
        return rendered.mime
    newline = b"\r\n" if b"\r\n" in rendered.mime[:2048] else b"\n"
    addresses = [formataddr((p.name, p.address), charset="utf-8").encode("ascii") for p in rendered.bcc]
    return b"Bcc: " + (b"," + newline + b" ").join(addresses) + newline + rendered.mime


def discard_drafts(account: Any, message_id: str, *, mailbox: str, item_id: str) -> int:
    """Delete the drafts carrying ``message_id`` from the mailbox's Drafts; return how many.

    Exchange leaves a refused submission (ErrorSendAsDenied) in the Drafts folder it was created in,
    the user's. The user did not write it there and would find an unexplained copy of a CRM email, so
    it goes. Cleaning up is best effort: a failure is logged, never raised, because the email's own
    outcome is already recorded. Graph's sendMail leaves no draft: nothing to do there.
    """
    if isinstance(account, MailboxSession):
        return 0
    try:
        with ews_errors(mailbox=mailbox, item_id=item_id):
            drafts = list(account.drafts.filter(message_id=message_id).only("message_id"))
            for draft in drafts:
                draft.delete()
            return len(drafts)
    except TransportError as exc:
        log.warning("could not remove the draft %s that Exchange left in %s's Drafts: %s", message_id,
                    mailbox, exc, extra={"mailbox": mailbox})
        return 0
