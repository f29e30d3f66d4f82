"""The common shape of an outgoing email written straight to bytes: text and HTML alternatives, nothing else.

Most CRM emails have no attachment and no inline image: their MIME is a ``multipart/alternative`` of
the generated text and the HTML. Building that through ``EmailMessage`` (``set_content``,
``add_alternative``, ``set_boundary``, the generator) re-parses the Content-Type header a dozen times
and walks the tree twice; it was the larger half of a render's CPU. This module writes the same bytes
directly, with the ``email`` package still doing everything that needs judgement:

* every header is parsed and folded by the router's policy (``ROUTER_POLICY``), and the result is kept
  per (name, value): the From, To, Importance and loop headers of a batch, and the parts' own headers,
  are folded once instead of once per email;
* each part's body is encoded by the package's own text encoder (``email.contentmanager``'s, which
  picks 7bit, quoted-printable or base64 the way ``set_content`` does);
* the layout (headers, blank line, boundaries, CRLF) is the generator's, written out.

``render`` uses it only for that shape and keeps ``EmailMessage`` for everything else; the unit tests
compare both writers byte for byte on the fixtures and on generated messages. ``write_alternative``
returns None when this Python's ``email`` package lacks the encoder, and the caller falls back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from email import contentmanager
from email.headerregistry import Address
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from router.pipeline.headers import THREAD_INDEX_HEADER, THREAD_TOPIC_HEADER
from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.mime_policy import ROUTER_POLICY

HeaderValue = str | datetime | MailAddress | tuple[MailAddress, ...]
"""A top-level header value as ``render`` sets it: text, a date, one mailbox or a list of them."""

_NEWLINE = re.compile(r"\r\n|\r|\n")
"""How the generator splits a payload into lines (``email.generator.NLCRE``)."""
_ENCODE_TEXT: Callable[[str, str, str | None, Any], tuple[str, str]] | None = getattr(
    contentmanager, "_encode_text", None)
_CHARSET = "utf-8"
_LINESEP = ROUTER_POLICY.linesep
_WIDTH = ROUTER_POLICY.max_line_length or 78
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")
"""Printable ASCII words separated by single spaces (no leading, trailing or doubled space)."""
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MSG_ID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*>")
"""A Message-ID of dot-atoms (what ``new_message_id`` makes), which the policy writes unchanged."""
_OWN_BOUNDARY = re.compile(r"=_[0-9a-f]{32}_[0-9]{1,3}")
"""The boundaries ``mime_body.boundary`` makes."""
PLAIN_HEADERS = frozenset(name.lower() for name in (
    "Subject", THREAD_TOPIC_HEADER, THREAD_INDEX_HEADER, "Date", "Message-ID", "In-Reply-To", "References"))
"""The headers ``_plain`` may write: unstructured, token or date headers whose value changes per email."""


def write_alternative(headers: Sequence[tuple[str, HeaderValue]], text: str, html: str,
                      boundary: str) -> tuple[bytes, tuple[tuple[str, str], ...]] | None:
    """The MIME of an email with ``headers`` whose body is ``text`` and ``html`` as alternatives, and its
    top-level headers as written (decoded values); None when this ``email`` package cannot be used."""
    if _ENCODE_TEXT is None:
        return None
    top = [*headers, ("MIME-Version", "1.0"),
           ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
    folded = [_plain(name, value) or _header(name, _key(value)) for name, value in top[:-1]]
    folded.append(_multipart_type(boundary))
    parts = [_part("plain", text), _part("html", html)]
    nl = _LINESEP
    body = (f"--{boundary}{nl}" + f"{nl}--{boundary}{nl}".join(parts) + f"{nl}--{boundary}--{nl}")
    mime = b"".join(line for line, _ in folded) + nl.encode("ascii") + body.encode("ascii")
    return mime, tuple((name, value) for (name, _), (_, value) in zip(top, folded, strict=True))


def _part(subtype: str, content: str) -> str:
    """One text part as the generator writes it: its two headers, a blank line, the encoded body."""
    assert _ENCODE_TEXT is not None
    cte, payload = _ENCODE_TEXT(content, _CHARSET, None, ROUTER_POLICY)
    content_type = _header("Content-Type", f'text/{subtype}; charset="{_CHARSET}"')[0]
    encoding = _header("Content-Transfer-Encoding", cte)[0]
    return (content_type + encoding).decode("ascii") + _LINESEP + _LINESEP.join(_NEWLINE.split(payload))


def _key(value: HeaderValue) -> object:
    """A hashable stand-in for a header value (mailboxes as tagged (name, address) pairs)."""
    if isinstance(value, MailAddress):
        return ("mailbox", value.name, value.address)
    if isinstance(value, tuple):
        return ("mailboxes", tuple((party.name, party.address) for party in value))
    return value


def _value(key: object) -> object:
    """The value ``render`` would set for ``key``: mailboxes become ``Address`` objects again."""
    if isinstance(key, tuple) and key[0] == "mailbox":
        return Address(display_name=key[1], addr_spec=key[2])
    if isinstance(key, tuple):
        return [Address(display_name=name, addr_spec=address) for name, address in key[1]]
    return key


def _multipart_type(boundary: str) -> tuple[bytes, str]:
    """The top Content-Type header, folded as ``_header`` folds it. A boundary of ``mime_body``'s form
    (fixed length, hex digits) folds the same whatever its digits, so the header is folded once per
    form and the email's boundary put in its place; any other boundary goes through ``_header``."""
    value = f'multipart/alternative; boundary="{boundary}"'
    if not _OWN_BOUNDARY.fullmatch(boundary):
        return _header("Content-Type", value)
    stand_in = f"=_{'0' * 32}{boundary[34:]}"
    folded, _ = _header("Content-Type", f'multipart/alternative; boundary="{stand_in}"')
    return folded.replace(stand_in.encode("ascii"), boundary.encode("ascii")), value


def _plain(name: str, value: HeaderValue) -> tuple[bytes, str] | None:
    """A per-email header (Subject, Date, Message-ID, Thread-Index...) written without the policy's parse
    and fold, when its value is plain: printable ASCII words separated by single spaces, no encoded-word
    marker, on one line of at most ``_WIDTH``. The policy writes such a value as ``Name: value``
    unchanged (the tests compare both on generated values); anything else returns None for ``_header``.

    These values differ from one email to the next, so ``_header``'s cache never hits for them and the
    parse-and-fold was most of a render's remaining CPU."""
    key = name.lower()
    if key not in PLAIN_HEADERS or (key == "date") != isinstance(value, datetime):
        return None
    text = format_datetime(value) if isinstance(value, datetime) else value
    if not isinstance(text, str) or len(name) + 2 + len(text) > _WIDTH or "=?" in text:
        return None
    if not (_MSG_ID if key == "message-id" else _PLAIN_VALUE).fullmatch(text):
        return None
    return f"{name}: {text}{_LINESEP}".encode("ascii"), text


@lru_cache(maxsize=4096)
def _header(name: str, key: object) -> tuple[bytes, str]:
    """One header folded by the router's policy (with its line ending), and its decoded value; a pure
    function of (name, value), hence kept."""
    stored_name, header = ROUTER_POLICY.header_store_parse(name, _value(key))
    return ROUTER_POLICY.fold_binary(stored_name, header), str(header)
