"""Attachments: metadata read eagerly, content decoded only when asked for.

Decoding a large base64 attachment is the most expensive thing a parse can do, and most decisions
(screening, size policy, the CRM's duplicate check) need only its name, type and size. So an
``Attachment`` carries metadata computed from the undecoded part, and ``content()`` decodes on each
call, holding nothing afterwards: a 30 MB attachment that is stripped or screened out is never
decoded at all.

``size`` is the decoded size computed without decoding: exact for well-formed base64 (stray
characters make it a slight over-estimate), 7bit, 8bit and binary content, an upper bound for
quoted-printable and uuencode, and an estimate for attached messages
(whose bytes would have to be regenerated). ``encoded_size`` is the room the part takes in the raw
message; the size policy subtracts it when an attachment is stripped.

An attachment keeps its (undecoded) MIME part alive until it is dropped, so a caller that keeps only
a few attachments of a large message should not keep the whole ``ParsedMessage`` around.
"""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.errors import MessageError as StdlibMessageError
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from functools import cache, partial

from router.errors import MessageError
from router.pipeline.incoming.charsets import decode_text
from router.pipeline.incoming.header_text import decode_encoded_words, decode_header_value, wire_bytes

MAX_FILENAME_LENGTH = 255
"""Longest filename kept (the common file-system limit); longer names keep their extension."""

_NEWLINE = re.compile(r"\r?\n|\r")


class _VerbatimHeaders(Compat32):
    """compat32, except that headers are written back exactly as parsed, never re-folded.

    The stock policy re-folds ASCII headers through ``email.header.Header``, which refuses values
    that a damaged message can hold (a line break followed by ``name:``). Writing the parsed value
    back verbatim is both more faithful and total.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        text = f"{name}: {_NEWLINE.sub(self.linesep, str(value))}{self.linesep}"
        return wire_bytes(text)


_FLATTEN_POLICY = _VerbatimHeaders(linesep="\r\n")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


@dataclass(frozen=True)
class Attachment:
    """One attachment: metadata plus a loader that decodes the content on demand.

    ``filename`` is always a safe, non-empty base name (no directories, no control characters);
    ``content_type`` is lower-case ``type/subtype``; ``content_id`` has its angle brackets removed;
    ``inline`` is true for parts meant to be shown in the body (``Content-Disposition: inline``, or a
    Content-ID without a disposition); ``part`` names the MIME part (``1.2``) for defect reports.
    """

    filename: str
    content_type: str
    size: int
    encoded_size: int
    content_id: str | None = None
    inline: bool = False
    part: str = ""
    _loader: Callable[[], bytes] = field(default=bytes, repr=False, compare=False)
    in_description: bool = field(default=False, compare=False)
    """An inline text part the activity's description already shows (``body_parts``): not uploaded."""

    def content(self) -> bytes:
        """Decode and return the content; raises ``MessageError`` only if it cannot be serialised."""
        return self._loader()

    @classmethod
    def from_bytes(cls, filename: str, content_type: str, data: bytes, *, content_id: str | None = None,
                   inline: bool = False) -> Attachment:
        """Build an attachment over bytes already in memory (tests, renderers, CRM adapters)."""
        return cls(safe_filename(filename) or "attachment", content_type.lower(), len(data), len(data),
                   content_id, inline, "", lambda: data)


def attachment_from_part(part: Message, number: int, path: str) -> Attachment:
    """Describe one MIME part as an attachment without decoding its content.

    ``number`` (1-based, in message order) names an attachment that came without a filename.
    """
    content_type = part.get_content_type()
    content_id = _content_id(part)
    disposition = _disposition(part)
    if content_type == EXTERNAL_BODY:
        pointer = external_body_text(part)
        name = part_filename(part) or f"external-body-{number}-{_pointer_target(part)}.txt"
        return Attachment(name, "text/plain", len(pointer), len(pointer), content_id, False, path,
                          lambda: pointer)
    if part.is_multipart():
        size = encoded = estimate_flat_size(part)
        loader = partial(message_part_bytes, part)
    else:
        size, encoded = leaf_sizes(part)
        loader = partial(leaf_bytes, part)
    inline = disposition == "inline" or (disposition is None and content_id is not None)
    name = part_filename(part) or _default_name(number, content_type)
    return Attachment(name, content_type, size, encoded, content_id, inline, path, loader)


EXTERNAL_BODY = "message/external-body"


def external_body_text(part: Message) -> bytes:
    """What a ``message/external-body`` part is: a pointer (RFC 2046 §5.2.3) to content kept elsewhere.

    Its parameters (access type, URL, site, name) say where; its body holds the headers of the content.
    Kept as a small text file (``external-body-N-<target>.txt``) naming both, so the CRM shows a pointer,
    not a file that pretends to be the content.
    """
    params = [f"{key}={value}" for key, value in (part.get_params() or [])[1:]]
    inner = message_part_bytes(part).decode("utf-8", "replace").strip()
    lines = ["This part of the message is a pointer to content stored elsewhere (message/external-body),",
             "not the content itself.", *params]
    if inner:
        lines += ["", "Headers of the content it points to:", inner]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _pointer_target(part: Message) -> str:
    """A short name for what an external-body part points to: its file's name, else the access type."""
    target = str(part.get_param("name") or part.get_param("url") or part.get_param("access-type")
                 or "pointer")
    return safe_filename(target.rstrip("/").rsplit("/", 1)[-1])[:60] or "pointer"


def part_filename(part: Message) -> str:
    """Return the part's filename (RFC 2231 or RFC 2047 encoded, or raw 8-bit), made safe; or ``""``."""
    if not _may_name_a_file(part):
        return ""
    try:
        name = part.get_filename()
    except (LookupError, UnicodeError, ValueError, TypeError):
        # An exotic RFC 2231 charset (e.g. "undefined") makes the stdlib raise; use the raw value.
        raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
        name = raw[2] if isinstance(raw, tuple) else raw
    if not name:
        return ""
    data = wire_bytes(str(name))
    text = data.decode("ascii") if data.isascii() else decode_text(data, None).text
    text, _ = decode_encoded_words(text)
    return safe_filename(text)


def _may_name_a_file(part: Message) -> bool:
    """False when ``get_filename`` must find nothing: no Content-Disposition and no ``name`` in the
    Content-Type (most body parts); saves parsing their parameters."""
    if part.get("content-disposition") is not None:
        return True
    content_type = part.get("content-type")
    return content_type is not None and "name" in str(content_type).lower()


def safe_filename(name: str) -> str:
    """Return ``name`` reduced to a safe base name: no path, no control or reserved characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = _UNSAFE_IN_NAME.sub("_", base).strip().strip(".").strip()
    if len(base) <= MAX_FILENAME_LENGTH:
        return base
    stem, dot, ext = base.rpartition(".")
    if dot and 0 < len(ext) <= 16:
        return stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + "." + ext
    return base[:MAX_FILENAME_LENGTH]


@cache
def _builtin_mime_types() -> mimetypes.MimeTypes:
    """Return a MimeTypes table with Python's built-in map only, so names do not depend on the host."""
    return mimetypes.MimeTypes(filenames=())


def _default_name(number: int, content_type: str) -> str:
    """Name an unnamed attachment ``attachment-N`` with an extension guessed from its type."""
    if content_type in ("message/rfc822", "message/global"):
        ext = ".eml"
    else:
        guessed = _builtin_mime_types().guess_extension(content_type, strict=False)
        text_like = content_type.startswith(("text/", "message/"))
        ext = guessed or (".txt" if text_like else ".bin")
    return f"attachment-{number}{ext}"


def _content_id(part: Message) -> str | None:
    """Return the part's Content-ID without angle brackets or whitespace, or ``None``."""
    raw = next((value for name, value in part.raw_items() if name.lower() == "content-id"), None)
    if raw is None:
        return None
    text = decode_header_value(raw).text.strip().strip("<>").strip()
    return "".join(text.split()) or None


def _disposition(part: Message) -> str | None:
    """Return ``inline``, ``attachment`` (or another token) lower-cased, or ``None`` when absent."""
    value = part.get("Content-Disposition")
    if value is None:
        return None
    token = str(value).split(";", 1)[0].strip().lower()
    return token or None


def transfer_encoding(part: Message) -> str:
    """Return the part's Content-Transfer-Encoding token, lower-cased (``""`` when absent)."""
    value = part.get("Content-Transfer-Encoding")
    return str(value).strip().lower() if value is not None else ""


def raw_payload(part: Message) -> str:
    """Return a single part's payload exactly as parsed (8-bit bytes as surrogates), undecoded.

    ``Message.get_payload()`` re-decodes an 8-bit payload with the part's declared charset: costly
    for a large part, wrong for byte counts, and it raises on hostile charset names (a NUL in the
    name, for one). compat32 has no public accessor for the undecoded text, hence the attribute.
    """
    payload = getattr(part, "_payload", None)
    return payload if isinstance(payload, str) else ""


def children_of(part: Message) -> list[Message]:
    """Return the sub-parts of a multipart or attached-message part (empty for a single part)."""
    if not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, Message)]


def leaf_sizes(part: Message) -> tuple[int, int]:
    """Return (decoded size, encoded size) of a single-part body without decoding it."""
    payload = raw_payload(part)
    encoded = len(payload)
    if transfer_encoding(part) != "base64":
        return encoded, encoded
    whitespace = sum(payload.count(ch) for ch in " \t\r\n")
    alphabet = encoded - whitespace - payload.count("=")
    return alphabet * 3 // 4, encoded


def leaf_bytes(part: Message) -> bytes:
    """Decode a single-part body (base64, quoted-printable, uuencode or identity); never raises.

    Base64 is decoded here rather than by the stdlib, which returns the *encoded* text when the
    length is impossible; ``lenient_b64decode`` always returns the bytes ``leaf_sizes`` predicted.
    """
    if transfer_encoding(part) == "base64":
        return lenient_b64decode(wire_bytes(raw_payload(part)))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def message_part_bytes(part: Message) -> bytes:
    """Return the bytes of an attached message (``message/*``), regenerated from the parsed tree.

    The regenerated bytes equal the original for well-formed input and are stable: parsing and
    regenerating them again gives the same bytes. Exchange sometimes base64-encodes an attached
    message despite RFC 2046 §5.2.1; the encoding is undone here.
    """
    if part.is_multipart():
        data = b"".join(_flatten(child) for child in children_of(part))
    else:
        data = wire_bytes(raw_payload(part))
    encoding = transfer_encoding(part)
    if encoding == "base64":
        return lenient_b64decode(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data.lstrip(b"\r\n"))
    return data


def _flatten(message: Message) -> bytes:
    """Serialise a parsed message back to bytes with CRLF line ends and headers left unfolded."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0, policy=_FLATTEN_POLICY).flatten(message)
    except (RecursionError, StdlibMessageError, LookupError, UnicodeError, ValueError, TypeError) as exc:
        raise MessageError(
            f"an attached message could not be regenerated from its parts ({type(exc).__name__})",
            hint="the attached message is too deeply nested or malformed; quarantine the item",
        ) from exc
    return buffer.getvalue()


def lenient_b64decode(data: bytes) -> bytes:
    """Decode base64 ignoring stray characters and bad padding, as mail clients do; never raises."""
    clean = _NOT_BASE64.sub(b"", data)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    return base64.b64decode(clean + b"=" * (-len(clean) % 4))


def estimate_flat_size(part: Message) -> int:
    """Estimate the serialised size of a multipart or attached-message part without serialising it.

    Walks the tree with an explicit stack (a hostile message can nest hundreds of levels deep) and
    adds up header lines, payload text and boundary lines.
    """
    total = 0
    stack: list[Message] = [part]
    while stack:
        current = stack.pop()
        total += sum(len(name) + len(str(value)) + 4 for name, value in current.raw_items()) + 2
        if current.is_multipart():
            children = children_of(current)
            total += (len(_boundary(current)) + 6) * (len(children) + 1)
            stack.extend(children)
        else:
            total += len(raw_payload(current))
    return total


def _boundary(part: Message) -> str:
    """Return the part's boundary parameter, or ``""`` when absent or unreadable."""
    try:
        return part.get_boundary() or ""
    except (LookupError, UnicodeError, ValueError, TypeError):
        return ""
