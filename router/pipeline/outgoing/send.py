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

import base64
import logging
from collections.abc import Sequence
from email.utils import formataddr
from typing import Any

from exchangelib import Mailbox, Message
from exchangelib.errors import EWSError
from exchangelib.folders import Root, SentItems
from exchangelib.items import SEND_AND_SAVE_COPY, SEND_TO_NONE
from exchangelib.properties import DistinguishedFolderId
from exchangelib.services import CreateItem
from exchangelib.services.common import folder_ids_element
from exchangelib.util import TNS, create_element, safe_xml_value
from lxml import etree

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
        folder = sent_items(account)
        ensure_lease()  # Right before the side effect: a paused instance must not send for a lost lane.
        service = SendAndSaveCopy(account=account, chunk_size=len(rendered))
        results = list(service.call(items=list(rendered), folder=folder,
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

    def get_payload(self, items: Sequence[RenderedMessage], folder: Any, message_disposition: str,
                    send_meeting_invitations: str) -> Any:
        """The request of ``items`` (rendered emails), their ``t:Message`` elements written by
        ``message_element`` instead of through exchangelib's model (the same XML: see the tests)."""
        payload = create_element(f"m:{self.SERVICE_NAME}", attrs={
            "MessageDisposition": message_disposition, "SendMeetingInvitations": send_meeting_invitations})
        if folder:
            payload.append(folder_ids_element(folders=[folder], version=self.account.version,
                                              tag="m:SavedItemFolderId"))
        container = create_element("m:Items")
        container.extend(message_element(item) for item in items)
        payload.append(container)
        return payload


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
    return Message(account=account, folder=account.sent, mime_content=rendered.mime,
                   bcc_recipients=bcc or None, importance=_importance(rendered))


def sent_items(account: Any) -> Any:
    """The mailbox's Sent Items named by its distinguished id and the mailbox's address, as the request's
    SavedItemFolderId: the folder ``account.sent`` means, without the GetFolder exchangelib makes to
    find it (a round trip before each mailbox's first send)."""
    mailbox = Mailbox(email_address=account.primary_smtp_address)
    root = Root(account=account,
                _distinguished_id=DistinguishedFolderId(id=Root.DISTINGUISHED_FOLDER_ID, mailbox=mailbox))
    return SentItems(root=root, _distinguished_id=DistinguishedFolderId(
        id=SentItems.DISTINGUISHED_FOLDER_ID, mailbox=mailbox))


_T = f"{{{TNS}}}"
_NSMAP = {"t": TNS}
_FIXED_BEFORE_BCC = (("Sensitivity", "Normal"),)
_REMINDER = (("ReminderIsSet", "0"), ("ReminderMinutesBeforeStart", "0"))
_FIXED_AFTER_BCC = (("IsReadReceiptRequested", "0"), ("IsDeliveryReceiptRequested", "0"),
                    ("IsRead", "0"), ("IsResponseRequested", "0"))


def message_element(rendered: RenderedMessage) -> Any:
    """The ``t:Message`` of one rendered email as exchangelib writes ``_message``'s model: the MIME as
    ``MimeContent``, the Bcc recipients beside it, and the model's defaults, in the schema's order.

    exchangelib builds the element by walking every field of ``Message`` (about seventy, each checked
    against the server version) and validating each value, which cost more client CPU per email than
    rendering it; the element of a rendered email has the same few children every time."""
    message = etree.Element(f"{_T}Message", nsmap=_NSMAP)
    _child(message, "MimeContent", base64.b64encode(rendered.mime).decode("ascii"))
    for name, value in (*_FIXED_BEFORE_BCC, ("Importance", _importance(rendered)), *_REMINDER):
        _child(message, name, value)
    if rendered.bcc:
        recipients = etree.SubElement(message, f"{_T}BccRecipients")
        for party in rendered.bcc:
            mailbox = etree.SubElement(recipients, f"{_T}Mailbox")
            if party.name:
                _child(mailbox, "Name", safe_xml_value(party.name))
            _child(mailbox, "EmailAddress", safe_xml_value(party.address))
            _child(mailbox, "RoutingType", "SMTP")
            _child(mailbox, "MailboxType", "Mailbox")
    for name, value in _FIXED_AFTER_BCC:
        _child(message, name, value)
    return message


def _child(parent: Any, name: str, text: str) -> None:
    etree.SubElement(parent, f"{_T}{name}").text = text


def _importance(rendered: RenderedMessage) -> str:
    return _IMPORTANCE.get((rendered.header("Importance") or "normal").lower(), "Normal")


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
