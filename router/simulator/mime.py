"""RFC 5322 / MIME handling: read a message's summary, build one from fields, edit its headers in place.

Header edits work on the raw bytes (the header block is rewritten, the body is kept byte for byte), so
what a client submitted is what a recipient receives, apart from what Exchange itself changes:
``From``/``Sender`` stamped at submission, ``Bcc`` removed in transit, ``Message-ID`` and ``Date`` added
when missing.
"""

from __future__ import annotations

import quopri
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.header import Header, decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, formataddr, getaddresses, parsedate_to_datetime

from router.simulator.model import Address

_HEADER_PARSER = BytesHeaderParser(policy=policy.compat32)
_SPLIT = re.compile(rb"\r?\n\r?\n")


@dataclass
class Summary:
    """What the store indexes about a message, read from its headers."""

    subject: str = ""
    from_: Address | None = None
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    date: datetime | None = None
    importance: str = "Normal"
    has_attachments: bool = False


def decode_text(value: str | None) -> str:
    """Decode RFC 2047 encoded words in a header value."""
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value))).strip()
    except (ValueError, LookupError):
        return value.strip()


def addresses(values: Sequence[str] | None) -> list[Address]:
    """Parse address header values into Address objects, decoding encoded display names."""
    if not values:
        return []
    out = []
    for name, email in getaddresses([str(v) for v in values]):
        if email and "@" in email:
            out.append(Address(email.strip(), decode_text(name)))
    return out


def _importance(msg: Message) -> str:
    raw = (msg.get("Importance") or "").strip().lower()
    prio = (msg.get("X-Priority") or "").strip()[:1]
    if raw == "high" or prio in ("1", "2"):
        return "High"
    if raw == "low" or prio in ("4", "5"):
        return "Low"
    return "Normal"


def summarize(mime: bytes) -> Summary:
    """Read the summary fields of a message from its header block (the body is not parsed)."""
    msg = _HEADER_PARSER.parsebytes(mime)
    date = None
    if msg.get("Date"):
        try:
            date = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            date = None
    senders = addresses(msg.get_all("Sender"))
    froms = addresses(msg.get_all("From"))
    ctype = (msg.get("Content-Type") or "").lower()
    return Summary(
        subject=decode_text(msg.get("Subject")),
        from_=froms[0] if froms else None,
        sender=senders[0] if senders else None,
        to=addresses(msg.get_all("To")),
        cc=addresses(msg.get_all("Cc")),
        bcc=addresses(msg.get_all("Bcc")),
        reply_to=addresses(msg.get_all("Reply-To")),
        message_id=(msg.get("Message-ID") or "").strip() or None,
        in_reply_to=(msg.get("In-Reply-To") or "").strip() or None,
        references=" ".join((msg.get("References") or "").split()) or None,
        date=date,
        importance=_importance(msg),
        has_attachments="multipart/mixed" in ctype and b"attachment" in mime.lower(),
    )


def headers(mime: bytes) -> list[tuple[str, str]]:
    """Return every header of the message, in order, unfolded."""
    msg = _HEADER_PARSER.parsebytes(mime)
    return [(k, " ".join(str(v).split())) for k, v in msg.items()]


def bodies(mime: bytes) -> tuple[str | None, str | None]:
    """Return the message's plain-text and HTML bodies (either may be None)."""
    msg = BytesParser(policy=policy.default).parsebytes(mime)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    return (
        str(text.get_content()) if isinstance(text, EmailMessage) else None,
        str(html.get_content()) if isinstance(html, EmailMessage) else None,
    )


def new_message_id(domain: str) -> str:
    """A Message-ID of the kind Exchange generates."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def format_address(addr: Address) -> str:
    return formataddr((addr.name, addr.email), charset="utf-8") if addr.name else addr.email


def format_addresses(addrs: Iterable[Address]) -> str:
    return ", ".join(format_address(a) for a in addrs)


@dataclass
class Draft:
    """The fields of a structured (non-MIME) CreateItem."""

    subject: str = ""
    body: str = ""
    body_type: str = "Text"
    from_: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    importance: str = "Normal"
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


def _encoded(value: str) -> str:
    """A header value, RFC 2047-encoded only when it is not plain ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def _build_single(draft: Draft, date: datetime) -> bytes:
    """The common case, rendered directly: one text or HTML part, quoted-printable UTF-8."""
    lines = []
    if draft.from_:
        lines.append(f"From: {format_address(draft.from_)}")
    for name, addrs in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc), ("Reply-To", draft.reply_to)):
        if addrs:
            lines.append(f"{name}: {format_addresses(addrs)}")
    lines += [f"Subject: {_encoded(draft.subject)}", f"Date: {format_datetime(date)}"]
    for name, value in (
        ("Message-ID", draft.message_id),
        ("In-Reply-To", draft.in_reply_to),
        ("References", draft.references),
    ):
        if value:
            lines.append(f"{name}: {value}")
    if draft.importance != "Normal":
        lines.append(f"Importance: {draft.importance.lower()}")
    lines += [f"{k}: {_encoded(v)}" for k, v in draft.extra_headers]
    subtype = "html" if draft.body_type == "HTML" else "plain"
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    body = quopri.encodestring(draft.body.replace("\r\n", "\n").encode("utf-8")).replace(b"\n", b"\r\n")
    return "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body


def build(draft: Draft, *, date: datetime) -> bytes:
    """Render a structured draft as MIME bytes (text or HTML body, file attachments)."""
    if not draft.attachments:
        return _build_single(draft, date)
    msg = EmailMessage(policy=policy.SMTP)
    if draft.from_:
        msg["From"] = format_address(draft.from_)
    for name, addrs in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc), ("Reply-To", draft.reply_to)):
        if addrs:
            msg[name] = format_addresses(addrs)
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(date)
    if draft.message_id:
        msg["Message-ID"] = draft.message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = draft.references
    if draft.importance != "Normal":
        msg["Importance"] = draft.importance.lower()
    for name, value in draft.extra_headers:
        msg[name] = value
    msg.set_content(draft.body, subtype="html" if draft.body_type == "HTML" else "plain", charset="utf-8")
    for name, ctype, content in draft.attachments:
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return msg.as_bytes()


def _split(mime: bytes) -> tuple[list[bytes], bytes, bytes]:
    """Split into logical header lines (folded continuations joined), the separator's EOL and body."""
    match = _SPLIT.search(mime)
    head, body = (mime[: match.start()], mime[match.end() :]) if match else (mime, b"")
    eol = b"\r\n" if b"\r\n" in head[:2000] or not head else b"\n"
    logical: list[bytes] = []
    for line in head.splitlines(keepends=False):
        if line[:1] in (b" ", b"\t") and logical:
            logical[-1] += eol + line
        else:
            logical.append(line)
    return logical, eol, body


def _name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower()


def edit_headers(
    mime: bytes,
    *,
    set_: Sequence[tuple[str, str | None]] = (),
    prepend: Sequence[tuple[str, str]] = (),
    add_missing: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Rewrite the header block: replace or remove (value None) headers, prepend trace headers,
    and add headers that are missing. The body is kept byte for byte."""
    logical, eol, body = _split(mime)
    for hname, value in set_:
        key = hname.lower().encode()
        idx = next((i for i, ln in enumerate(logical) if _name(ln) == key), None)
        logical = [ln for ln in logical if _name(ln) != key]
        if value is not None:
            encoded = f"{hname}: {value}".encode()
            logical.insert(idx if idx is not None else len(logical), encoded)
    present = {_name(ln) for ln in logical}
    for hname, value in add_missing:
        if hname.lower().encode() not in present:
            logical.append(f"{hname}: {value}".encode())
    logical = [f"{k}: {v}".encode() for k, v in prepend] + logical
    return eol.join(logical) + eol + eol + body


def forward_as_attachment(
    original: bytes, *, owner: Address, to: Sequence[Address], subject: str, date: datetime, message_id: str
) -> bytes:
    """The message an Inbox rule's ForwardAsAttachmentToRecipients action sends: the original rides
    along unchanged as a message/rfc822 part."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = format_address(owner)
    msg["To"] = format_addresses(to)
    msg["Subject"] = f"FW: {subject}"
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg.set_content("", charset="utf-8")
    inner = message_from_bytes(original, policy=policy.compat32)
    msg.add_attachment(inner, filename=f"{subject or 'message'}.eml")
    return msg.as_bytes()
