"""``parse_message``: raw MIME bytes from Exchange into a ``ParsedMessage``, tolerant of hostile input.

Parsing uses the stdlib's ``compat32`` policy (``email.message_from_bytes``), 5 to 7 times cheaper than
``policy.default`` (``exchangelib-performance.md`` §3.4), through ``mime_feed.parse_mime`` (the same
parse without a regex compile per MIME boundary), and decodes only what every consumer needs: the
headers the router reads, and the bodies. Attachment content is decoded on demand.

Contract:

* ``parse_message`` returns a ``ParsedMessage`` for anything that is an Internet message at all,
  however broken: every repair is recorded in ``defects`` and nothing is raised.
* It raises ``MessageError`` (and nothing else) when the bytes are not a message: empty or only
  whitespace, no header field before the body (a stray binary file, a truncated download), or a MIME
  structure nested too deeply for the stdlib parser (around 900 levels). The incoming pipeline
  quarantines such an item with the error's text; retrying cannot help.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from enum import StrEnum

from router.errors import MessageError
from router.pipeline.incoming.addresses import Mailbox, parse_address_headers
from router.pipeline.incoming.attachments import Attachment
from router.pipeline.incoming.body_parts import BodyPart
from router.pipeline.incoming.defects import ParseDefect, short_detail
from router.pipeline.incoming.header_repair import repair_header_block
from router.pipeline.incoming.header_text import HeaderView, decode_header_value
from router.pipeline.incoming.message_ids import (
    STABLE_HEADERS,
    MessageKey,
    derive_message_key,
    normalize_message_id,
    parse_references,
)
from router.pipeline.incoming.mime_feed import parse_mime
from router.pipeline.incoming.structure import Structure, walk_structure

ADDRESS_HEADERS = ("From", "Sender", "To", "Cc", "Bcc", "Reply-To")


class Importance(StrEnum):
    """The sender's importance, as ``DeliverIncomingEmail`` takes it."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True)
class ParsedMessage:
    """A message as the incoming pipeline needs it. Immutable; attachments decode on demand.

    Address fields are tuples of ``Mailbox`` (invalid entries kept with ``valid=False``). ``date`` is
    an aware UTC datetime, or ``None`` when the Date header is missing or unreadable. ``message_id``,
    ``in_reply_to`` and ``references`` are normalised ``<…>`` ids. ``headers`` gives every top-level
    header, decoded on access. ``size`` is the raw message's length in bytes.
    """

    key: MessageKey
    message_id: str | None
    subject: str
    from_: tuple[Mailbox, ...]
    sender: tuple[Mailbox, ...]
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    bcc: tuple[Mailbox, ...]
    reply_to: tuple[Mailbox, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    thread_index: str | None
    thread_topic: str | None
    importance: Importance
    content_type: str
    report_type: str | None
    headers: HeaderView
    body_text: str | None
    body_html: str | None
    attachments: tuple[Attachment, ...]
    size: int
    defects: tuple[ParseDefect, ...]
    body_parts: tuple[BodyPart, ...] = ()
    """Every inline text part in order (``body_parts``): what the activity's description shows."""

    @property
    def from_address(self) -> str | None:
        """Return the first valid From address, lower-cased, or ``None``."""
        return next((box.normalized for box in self.from_ if box.valid), None)

    @property
    def recipients(self) -> tuple[Mailbox, ...]:
        """Return To, Cc and Bcc together, in that order."""
        return self.to + self.cc + self.bcc


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw MIME bytes; raise ``MessageError`` only when they are not a message at all."""
    # Blank lines before the header block (left by some exporters) would make every header body.
    content = raw.lstrip(b"\r\n")
    if not content.strip():
        raise MessageError(
            f"the message is empty ({len(raw)} bytes, no header and no body)",
            hint="Exchange returned no MIME content for this item; quarantine it and check it in Outlook",
        )
    content, dropped = repair_header_block(content)
    try:
        message = parse_mime(content)
    except RecursionError as exc:
        raise MessageError(
            "the message's MIME parts are nested too deeply to be parsed",
            hint="this is hostile or corrupt mail; quarantine it",
        ) from exc
    if len(message) == 0:
        raise MessageError(
            "the data has no header fields, so it is not an Internet message "
            f"(it starts with '{short_detail(raw[:40].decode('latin-1'))}')",
            hint="the item's MIME content is not a mail message; quarantine it and check it in Outlook",
        )
    defects: list[ParseDefect] = []
    if raw[:1] in (b"\r", b"\n"):
        defects.append(ParseDefect("leading-blank-lines", "message", "blank lines before the headers"))
    if dropped:
        defects.append(ParseDefect("header-line-dropped", "message",
                                   f"{len(dropped)} line(s) without a colon inside the header block, first "
                                   f"'{short_detail(dropped[0])}'"))
    return _build(message, len(raw), defects)


def _build(message: Message, size: int, defects: list[ParseDefect]) -> ParsedMessage:
    """Assemble the ``ParsedMessage`` fields from a parsed tree, adding to ``defects``."""
    headers = HeaderView.of(message.raw_items())
    structure = walk_structure(message)
    subject = _text_header(headers, "Subject", defects) or ""
    addresses = {name: _addresses(headers, name, defects) for name in ADDRESS_HEADERS}
    if not addresses["From"]:
        defects.append(ParseDefect("from-missing", "From", "no From address"))
    message_id = _message_id(headers, defects)
    references, trimmed = parse_references(headers.get_raw("References"))
    if trimmed:
        defects.append(ParseDefect("references-trimmed", "References", "kept the first and latest ids"))
    return ParsedMessage(
        key=MessageKey(message_id) if message_id else _derived_key(headers, structure),
        message_id=message_id,
        subject=subject,
        from_=addresses["From"], sender=addresses["Sender"], to=addresses["To"], cc=addresses["Cc"],
        bcc=addresses["Bcc"], reply_to=addresses["Reply-To"],
        date=_date(headers, defects),
        in_reply_to=normalize_message_id(headers.get_raw("In-Reply-To")),
        references=references,
        thread_index=_token(headers.get("Thread-Index")),
        thread_topic=_text_header(headers, "Thread-Topic", defects),
        importance=importance_of(headers),
        content_type=message.get_content_type(),
        report_type=_report_type(message),
        headers=headers,
        body_text=structure.body_text,
        body_html=structure.body_html,
        attachments=structure.attachments,
        size=size,
        defects=tuple(structure.defects) + tuple(defects),
        body_parts=structure.body_parts,
    )


def _text_header(headers: HeaderView, name: str, defects: list[ParseDefect]) -> str | None:
    """Decode a free-text header (Subject, Thread-Topic), recording repairs as defects."""
    raw = headers.get_raw(name)
    if raw is None:
        return None
    decoded = decode_header_value(raw)
    defects.extend(ParseDefect(problem, name) for problem in decoded.problems)
    return decoded.text


def _addresses(headers: HeaderView, name: str, defects: list[ParseDefect]) -> tuple[Mailbox, ...]:
    """Parse every occurrence of an address header; flag entries that are not usable addresses."""
    mailboxes = parse_address_headers(headers.get_all_raw(name))
    defects.extend(ParseDefect("address-invalid", name, short_detail(box.address))
                   for box in mailboxes if not box.valid)
    return mailboxes


def _message_id(headers: HeaderView, defects: list[ParseDefect]) -> str | None:
    """Return the normalised Message-ID, recording why it is unusable when it is."""
    raw = headers.get_raw("Message-ID")
    if len(headers.get_all("Message-ID")) > 1:
        defects.append(ParseDefect("message-id-repeated", "Message-ID", "the first one is used"))
    if raw is None:
        defects.append(ParseDefect("message-id-missing", "Message-ID", "the message key is derived"))
        return None
    normalized = normalize_message_id(raw)
    if normalized is None:
        defects.append(ParseDefect("message-id-invalid", "Message-ID",
                                   f"'{short_detail(raw)}'; the message key is derived"))
    return normalized


def _derived_key(headers: HeaderView, structure: Structure) -> MessageKey:
    """Derive the message key from stable headers, bodies and attachment facts."""
    stable = [(name, value) for name in STABLE_HEADERS for value in headers.get_all(name)]
    bodies = [body for body in (structure.body_text, structure.body_html) if body is not None]
    facts = [(a.filename, a.content_type, a.size) for a in structure.attachments]
    return derive_message_key(stable, bodies, facts)


def _date(headers: HeaderView, defects: list[ParseDefect]) -> datetime | None:
    """Return the Date header as an aware UTC datetime, or ``None`` when missing or unreadable."""
    value = headers.get("Date")
    if value is None:
        defects.append(ParseDefect("date-missing", "Date"))
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(ParseDefect("date-invalid", "Date", short_detail(value)))
        return None
    if parsed.tzinfo is None:
        # RFC 5322 "-0000" means "UTC, local zone unknown"; the stdlib returns it naive.
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        defects.append(ParseDefect("date-invalid", "Date", short_detail(value)))
        return None


def _token(value: str | None) -> str | None:
    """Return a single-token header (Thread-Index) without whitespace, or ``None`` when empty."""
    if value is None:
        return None
    return "".join(value.split()) or None


def _report_type(message: Message) -> str | None:
    """Return the ``report-type`` of a top-level ``multipart/report``, lower-cased, else ``None``."""
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    text = str(value[2] if isinstance(value, tuple) else value or "").strip().lower()
    return text or None


def importance_of(headers: HeaderView) -> Importance:
    """Read importance from Importance, X-Priority, X-MSMail-Priority or Priority, first found wins."""
    importance = (headers.get("Importance") or "").strip().lower()
    if importance in ("high", "low", "normal"):
        return Importance(importance)
    priority = (headers.get("X-Priority") or "").strip()[:1]
    if priority in ("1", "2", "4", "5"):
        return Importance.HIGH if priority in ("1", "2") else Importance.LOW
    ms_priority = (headers.get("X-MSMail-Priority") or headers.get("Priority") or "").strip().lower()
    if ms_priority in ("high", "urgent"):
        return Importance.HIGH
    if ms_priority in ("low", "non-urgent"):
        return Importance.LOW
    return Importance.NORMAL
