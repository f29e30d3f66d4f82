"""Render an ``OutgoingMessage`` into the MIME bytes the send step submits to Exchange.

``render(message) -> RenderedMessage`` is a pure function: the same message (same Message-ID and date)
gives the same bytes, because MIME boundaries and Thread-Index randomness are derived from the
router-owned Message-ID. Typical use by the send step::

    message_id = new_message_id(domain_of(sender.address))   # record it on the CRM email first
    rendered = render(OutgoingMessage(message_id=message_id, sender=sender, subject=subject,
                                      html_body=html, date=clock.now(), to=to, cc=cc, bcc=bcc, ...),
                      loop_identity=deployment.loop_name(deployment_name))
    # exchangelib: Message(account=..., mime_content=rendered.mime,
    #                      bcc_recipients=[party.address for party in rendered.bcc])

What the MIME carries, and what it does not:

- ``From`` is the sending user or queue. No ``Sender`` header is written: Exchange stamps Sender itself
  from the submitting account's rights (Send As: Sender = From; Send On Behalf: Sender = the delegate,
  shown as "delegate on behalf of user"), and ignores a client-supplied one.
- ``To`` and ``Cc`` are written; **Bcc is not** (it must stay invisible to the other recipients). The
  send step passes ``RenderedMessage.bcc`` to EWS separately (exchangelib ``bcc_recipients`` next to
  ``mime_content``); ``RenderedMessage.recipients`` lists every envelope recipient.
- Subject, display names and file names are encoded per RFC 2047 / RFC 2231 as needed; the body is a
  ``multipart/alternative`` of a generated text part and the HTML (``multipart/related`` with inline
  images), wrapped in ``multipart/mixed`` when there are attachments. Every line is at most 998
  characters and the whole message is 7-bit.
- ``X-Email-Router-Loop`` carries the deployment's loop identity (``loop_header_value``), so the
  incoming side of any router serving the same CRM recognises the message as its own when it comes
  back (a queue mailing another queue, a mailbox both sent from and polled).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache

from router.errors import MessageError
from router.pipeline.headers import LOOP_HEADER, THREAD_INDEX_HEADER, THREAD_TOPIC_HEADER
from router.pipeline.incoming.screening import loop_header_value
from router.pipeline.outgoing.addresses import MailAddress, clean_display_name, normalize_address
from router.pipeline.outgoing.conversation import ThreadHeaders, thread_headers
from router.pipeline.outgoing.message import OutgoingMessage, Priority
from router.pipeline.outgoing.message_id import normalize_message_id
from router.pipeline.outgoing.mime_body import boundary, write_body
from router.pipeline.outgoing.mime_policy import ROUTER_POLICY
from router.pipeline.outgoing.mime_writer import HeaderValue, write_alternative
from router.pipeline.outgoing.plaintext import html_to_text

MAX_LINE = 998
"""RFC 5322 section 2.1.1: a line must not exceed 998 characters, excluding CRLF."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_IMPORTANCE = {Priority.LOW: ("low", "5 (Lowest)"), Priority.NORMAL: ("normal", "3 (Normal)"),
               Priority.HIGH: ("high", "1 (Highest)")}


@dataclass(frozen=True)
class RenderedMessage:
    """A rendered email: the MIME to submit, and the envelope the submission needs besides it."""

    mime: bytes
    """The whole message, CRLF line endings, 7-bit; no Bcc header."""
    message_id: str
    """The router-owned Message-ID, angle brackets included, as written in the MIME."""
    sender: MailAddress
    """The From mailbox, normalised."""
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    bcc: tuple[MailAddress, ...]
    """Blind recipients: not in ``mime``; the send step gives them to Exchange separately."""
    headers: tuple[tuple[str, str], ...]
    """The top-level headers as written (decoded values), in order; for logs and tests."""
    thread_index: str
    thread_topic: str
    warnings: tuple[str, ...] = ()
    """Repairs made on the way (an unusable parent header left out, an attachment type replaced)."""

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient address (To, Cc, then Bcc), each once."""
        return tuple(party.address for party in (*self.to, *self.cc, *self.bcc))

    def header(self, name: str) -> str | None:
        """Return the first top-level header called ``name`` (any case), or ``None``."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def render(message: OutgoingMessage, *, loop_identity: str) -> RenderedMessage:
    """Return ``message`` rendered as MIME, or raise ``MessageError`` naming the email and the problem.

    ``loop_identity`` (the deployment's, see ``Deployment.loop_name``) is stamped in ``LOOP_HEADER``;
    an identity unusable in a header raises ``ConfigError``. Errors are otherwise the email's own data
    (an invalid address, no recipients, an unusable Message-ID); retrying does not help, so the caller
    fails the email with the error's message as the reason.
    """
    loop_value = loop_header_value(loop_identity)
    message_id = _own_message_id(message)
    seed = hashlib.sha256(message_id.encode("ascii")).digest()
    sender, to, cc, bcc = _parties(message)
    threads = thread_headers(message.subject, message.parent, now=message.date, seed=seed)
    values = _header_values(message, (message_id, loop_value), (sender, to, cc), threads)
    written = _write_directly(message, values, seed)
    warnings = list(threads.warnings)
    if written is None:
        email = EmailMessage(policy=ROUTER_POLICY)
        for name, value in values:
            email[name] = _stored(value)
        warnings += write_body(email, message, seed)
        written = email.as_bytes(), tuple((key, str(value)) for key, value in email.items())
    mime, headers = written
    _check_lines(mime, message)
    return RenderedMessage(mime, message_id, sender, to, cc, bcc, headers, threads.thread_index,
                           threads.thread_topic, tuple(warnings))


def _write_directly(message: OutgoingMessage, values: list[tuple[str, HeaderValue]],
                    seed: bytes) -> tuple[bytes, tuple[tuple[str, str], ...]] | None:
    """The MIME of the common shape (an HTML body, no attachment) written by ``mime_writer``; None for
    any other shape, which ``EmailMessage`` builds (the same bytes for this shape: see the tests)."""
    html = message.html_body
    if message.attachments or not html.strip():
        return None
    return write_alternative(values, html_to_text(html), html, boundary(seed, 0))


def _label(message: OutgoingMessage) -> str:
    return message.activity_id or message.message_id


def _error(message: OutgoingMessage, text: str, hint: str) -> MessageError:
    return MessageError(f"email {_label(message)}: {text}", hint=hint, item_id=_label(message))


def _own_message_id(message: OutgoingMessage) -> str:
    normalized = normalize_message_id(message.message_id)
    if normalized is None or "@" not in normalized:
        raise _error(message, f"the Message-ID {message.message_id[:80]!r} is not a valid Message-ID",
                     "generate it with new_message_id(domain); this is a bug in the caller")
    return normalized


def _parties(message: OutgoingMessage) -> tuple[MailAddress, tuple[MailAddress, ...],
                                                  tuple[MailAddress, ...], tuple[MailAddress, ...]]:
    """Return sender, To, Cc and Bcc normalised; an address already listed earlier is dropped."""
    sender = _party(message, message.sender, "sender")
    seen: set[str] = set()
    lists = []
    for role, parties in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
        kept = []
        for party in (_party(message, item, role) for item in parties):
            if party.address.lower() not in seen:
                seen.add(party.address.lower())
                kept.append(party)
        lists.append(tuple(kept))
    if not seen:
        raise _error(message, "has no recipient in To, Cc or Bcc",
                     "add a recipient to the email in the CRM, then send it again")
    return sender, lists[0], lists[1], lists[2]


def _party(message: OutgoingMessage, party: MailAddress, role: str) -> MailAddress:
    try:
        return _clean_party(party.address, party.name)
    except ValueError as exc:
        raise _error(message, f"{role} address is not usable: {exc}",
                     f"correct the {role} address on the email (or the party's record) in the CRM, "
                     "then send it again") from exc


@lru_cache(maxsize=4096)
def _clean_party(address: str, name: str) -> MailAddress:
    """A party normalised: a pure function of its address and name, kept because a batch names the same
    senders and recipients again and again (parsing an address is a good part of a render)."""
    return MailAddress(normalize_address(address), clean_display_name(name))


def _header_values(message: OutgoingMessage, ids: tuple[str, str],
                   visible: tuple[MailAddress, tuple[MailAddress, ...], tuple[MailAddress, ...]],
                   threads: ThreadHeaders) -> list[tuple[str, HeaderValue]]:
    """The top-level headers in the order Outlook writes them; Bcc is deliberately absent."""
    sender, to, cc = visible
    message_id, loop_value = ids
    values: list[tuple[str, HeaderValue]] = [("From", sender)]
    if to:
        values.append(("To", to))
    if cc:
        values.append(("Cc", cc))
    values += [("Subject", _one_line(message.subject)),
               (THREAD_TOPIC_HEADER, _one_line(threads.thread_topic)),
               (THREAD_INDEX_HEADER, threads.thread_index), ("Date", message.date),
               ("Message-ID", message_id)]
    if threads.in_reply_to:
        values.append(("In-Reply-To", threads.in_reply_to))
    if threads.references:
        values.append(("References", " ".join(threads.references)))
    importance, x_priority = _IMPORTANCE[message.priority]
    values += [("Importance", importance), ("X-Priority", x_priority), (LOOP_HEADER, loop_value)]
    return values


def _stored(value: HeaderValue) -> object:
    """A header value as ``EmailMessage`` takes it: mailboxes as ``Address`` objects (the policy quotes and
    encodes the display names)."""
    if isinstance(value, MailAddress):
        return _address(value)
    if isinstance(value, tuple):
        return [_address(party) for party in value]
    return value


def _address(party: MailAddress) -> Address:
    return Address(display_name=party.name, addr_spec=party.address)


def _one_line(text: str) -> str:
    """Return ``text`` without control characters: a pasted line break must not end the header."""
    return _CONTROL.sub(" ", text).strip()


def _check_lines(mime: bytes, message: OutgoingMessage) -> None:
    """Refuse output that breaks RFC 5322's line limit or is not 7-bit (a guard against regressions)."""
    longest = max(map(len, mime.split(b"\r\n")))
    if longest > MAX_LINE or not mime.isascii():
        raise _error(message, f"rendered MIME is not transportable (7-bit: {mime.isascii()}, "
                     f"longest line {longest})",
                     "report this as a bug with the email's subject and attachments")
