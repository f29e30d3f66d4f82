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

``submit_many`` puts several emails of one mailbox in one CreateItem (``request_chunks`` sizes them):
Exchange submits each item on its own and answers one response message per item, so each email gets
its own outcome (sent, or the error Exchange gave for it), while the per-request cost (the HTTP round
trip, the SOAP envelope, the answer's parsing; about 1.5 ms of client CPU) is paid once per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.utils import formataddr
from typing import Any

from exchangelib import Mailbox, Message
from exchangelib.errors import EWSError
from exchangelib.items import SEND_AND_SAVE_COPY, SEND_TO_NONE
from exchangelib.services import CreateItem

from router.errors import TransportError
from router.ews.errors import ews_errors, translate
from router.mailbox.session import BatchSender, MailboxSession
from router.pipeline.outgoing.render import RenderedMessage
from router.runtime.lane_lease import ensure_lease

log = logging.getLogger(__name__)

_IMPORTANCE = {"low": "Low", "normal": "Normal", "high": "High"}

MAX_ITEMS_PER_REQUEST = 20
"""Most emails one CreateItem carries: the per-request cost is spread thin well before this, and an
answer the server is slow to give (it submits each item in turn) stays far within the read timeout."""
MAX_BYTES_PER_REQUEST = 4 * 1024 * 1024
"""Most MIME bytes one CreateItem carries (base64 makes the request a third larger); an email larger than
this goes alone. Exchange refuses requests past its maxRequestLength / maxAllowedContentLength."""


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
    with ews_errors(mailbox=mailbox, item_id=item_id):
        message = _message(account, rendered)
        ensure_lease()  # Right before the side effect: a paused instance must not send for a lost lane.
        message.send_and_save()


def submit_many(account: Any, rendered: Sequence[RenderedMessage], *, mailbox: str,
                item_ids: Sequence[str]) -> list[TransportError | None]:
    """Send ``rendered`` in one request (Graph: one ``$batch`` of sendMail steps); per email, None when
    Exchange submitted it, or the router error Exchange gave for that email alone.

    A failure of the request as a whole (a timeout, a busy server, a lost lease) is raised: whether any
    of its emails left is then unknown, so the caller looks in Sent Items before sending them again.
    """
    if isinstance(account, BatchSender) and len(rendered) > 1:  # Graph: sendMail steps in one $batch
        mimes = [with_bcc(item) for item in rendered]
        ensure_lease()
        return account.send_mime_many(mimes)
    if isinstance(account, MailboxSession) or len(rendered) == 1:
        submit(account, rendered[0], mailbox=mailbox, item_id=item_ids[0])
        return [None]
    with ews_errors(mailbox=mailbox, item_id=item_ids[0]):
        messages = [_message(account, item) for item in rendered]
        ensure_lease()  # Right before the side effect: a paused instance must not send for a lost lane.
        service = SendAndSaveCopy(account=account, chunk_size=len(messages))
        results = list(service.call(items=messages, folder=account.sent,
                                    message_disposition=SEND_AND_SAVE_COPY,
                                    send_meeting_invitations=SEND_TO_NONE))
    if len(results) != len(rendered):
        raise translate(RuntimeError(f"CreateItem answered {len(results)} results for {len(rendered)} items"),
                        mailbox=mailbox, item_id=item_ids[0])
    return [translate(result, mailbox=mailbox, item_id=item_id)
            if isinstance(result, BaseException) else None
            for result, item_id in zip(results, item_ids, strict=True)]


class SendAndSaveCopy(CreateItem):  # type: ignore[misc]
    """exchangelib's CreateItem with every per-item error answered as a value.

    Stock CreateItem raises most per-item errors (ErrorSendAsDenied, ErrorServerBusy...) while it reads
    the answer, which would lose the outcome of the items after it, and exchangelib retries a whole
    request when such an error is raised from a response message: the items Exchange had already sent
    would leave twice. Caught as values, each item keeps its own outcome and nothing is retried here.
    """

    ERRORS_TO_CATCH_IN_RESPONSE = EWSError


def request_chunks(sizes: Sequence[int], *, one_by_one: bool = False) -> list[int]:
    """How many of the emails (of MIME ``sizes``, in order) each request carries, within the limits."""
    chunks: list[int] = []
    count = total = 0
    for size in sizes:
        if count and (one_by_one or count >= MAX_ITEMS_PER_REQUEST or total + size > MAX_BYTES_PER_REQUEST):
            chunks.append(count)
            count = total = 0
        count += 1
        total += size
    if count:
        chunks.append(count)
    return chunks


def _message(account: Any, rendered: RenderedMessage) -> Message:
    """The exchangelib message of one rendered email, saved to the mailbox's Sent Items when sent."""
    bcc = [Mailbox(email_address=party.address, name=party.name or None) for party in rendered.bcc]
    importance = _IMPORTANCE.get((rendered.header("Importance") or "normal").lower(), "Normal")
    return Message(account=account, folder=account.sent, mime_content=rendered.mime,
                   bcc_recipients=bcc or None, importance=importance)


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
