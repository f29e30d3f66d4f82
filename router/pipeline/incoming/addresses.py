"""Address headers (From, To, Cc, Bcc, Reply-To, Sender) as lists of mailboxes, invalid ones kept.

A recipient list is what the CRM resolves parties from, so nothing written in it is silently lost: a
chunk that is not a usable address is kept as a ``Mailbox`` with ``valid=False`` and the text as
written, and the parse records an ``address-invalid`` defect. Groups (``Team: a@x, b@y;``) contribute
their members; an empty group (``undisclosed-recipients:;``) contributes nothing.

Splitting is done here rather than by ``email.utils.getaddresses`` because the stdlib drops what it
cannot parse (and its behaviour changed between 3.11 patch releases); each chunk is then read with
``email.utils.parseaddr``. Display names are RFC 2047-decoded after splitting, so a comma inside an
encoded name cannot split an address in two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

from router.pipeline.incoming.charsets import decode_text
from router.pipeline.incoming.header_text import decode_encoded_words, wire_bytes

MAX_ADDRESS_LENGTH = 320
"""Longest address accepted as valid: 64 for the local part, 1 for "@", 255 for the domain."""

_SPECIALS = r'\s@<>()\[\],;:"\\'
_ADDRESS = re.compile(
    rf'(?:[^{_SPECIALS}]+|"(?:[^"\\]|\\.)*")'  # local part: dot-atom-ish, or a quoted string
    rf'@(?:[^{_SPECIALS}.]+(?:\.[^{_SPECIALS}.]+)*\.?|\[[^\]\s]+\])'  # domain name or literal
)
_SIMPLE = re.compile(r'(?:"([^"\\]*)"|([^"<>()\\,;:@]*?))\s*<([^<>\s()"]+)>|([^\s"<>()\\,;:]+)')
"""The two forms nearly all mail uses, ``Name <a@b>`` / ``"Name" <a@b>`` and a bare ``a@b``, read
without ``parseaddr``, which is ten times slower; anything else goes through ``parseaddr``."""
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Mailbox:
    """One address from an address header: display name, address as written, and whether it is usable.

    ``address`` is the text as written (for an invalid entry, the whole chunk); ``normalized`` is the
    lower-cased form used for comparisons (Exchange and the CRM compare addresses case-insensitively).
    """

    name: str
    address: str
    valid: bool = True

    @property
    def normalized(self) -> str:
        """Return the address lower-cased and stripped, for matching and rate keys."""
        return self.address.strip().lower()

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


def is_valid_address(address: str) -> bool:
    """Return whether ``address`` is a syntactically usable ``local@domain`` address."""
    return 0 < len(address) <= MAX_ADDRESS_LENGTH and _ADDRESS.fullmatch(address) is not None


def parse_address_headers(raw_values: Iterable[str]) -> tuple[Mailbox, ...]:
    """Parse every raw value of one address header (it may occur several times) into mailboxes."""
    mailboxes: list[Mailbox] = []
    for raw in raw_values:
        mailboxes.extend(_parse_chunk(chunk) for chunk in split_addresses(_header_text(raw)))
    return tuple(mailboxes)


def _header_text(raw: str) -> str:
    """Return a raw address header as one line of text, 8-bit bytes decoded, encoded words kept."""
    data = wire_bytes(raw)
    text = data.decode("ascii") if data.isascii() else decode_text(data, None).text
    return _CONTROL.sub("", _FOLD.sub("", text).replace("\t", " "))


def _parse_chunk(chunk: str) -> Mailbox:
    """Read one address chunk; keep it, flagged invalid, when it holds no usable address."""
    simple = _SIMPLE.fullmatch(chunk)
    if simple:
        name, address = (simple.group(1) or simple.group(2) or ""), simple.group(3) or simple.group(4)
    else:
        name, address = parseaddr(chunk)
    if address and is_valid_address(address):
        return Mailbox(_clean_name(name), address, True)
    return Mailbox("", chunk, False)


def _clean_name(name: str) -> str:
    """Decode RFC 2047 words in a display name and drop the quotes some senders double up."""
    text, _ = decode_encoded_words(name)
    return _CONTROL.sub("", text).strip().strip('"').strip()


def split_addresses(text: str) -> list[str]:
    """Split an address header at top-level commas and semicolons; drop group names.

    Commas inside quoted strings, comments and angle brackets do not split. A colon at top level,
    before any ``@`` or ``<`` in the current chunk, ends a group's display name, which is dropped.
    """
    chunks: list[str] = []
    buf: list[str] = []
    quoted = escaped = angle = False
    comment = 0
    for ch in text:
        if escaped:
            escaped = False
        elif quoted or comment:
            escaped = ch == "\\"
            quoted = quoted and ch != '"'
            comment += (ch == "(") - (ch == ")") if comment else 0
        elif ch in ",;" and not angle:
            chunks.append("".join(buf))
            buf = []
            continue
        elif ch == ":" and not angle and not any(c in "@<" for c in buf):
            buf = []
            continue
        else:
            quoted = ch == '"'
            comment = 1 if ch == "(" else 0
            angle = (angle or ch == "<") and ch != ">"
        buf.append(ch)
    chunks.append("".join(buf))
    return [chunk.strip() for chunk in chunks if chunk.strip()]
