"""E-mail address lists as the CRM messages carry them: parsing, validation and the wire format.

CheckIncomingEmail and DeliverIncomingEmail take From/To/Cc/Bcc as plain strings. The legacy format is
not documented, so both gateways send bare addresses separated by ``;`` (the separator Dynamics uses in
its own address strings) and the embedded CRM parses the same format. Display names are dropped on the
wire because they may contain either separator.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from email.utils import parseaddr

SEPARATOR = "; "

_ADDRESS = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\".]+$")


def is_valid_address(address: str) -> bool:
    """Return True for a syntactically usable ``local@domain.tld`` address."""
    return bool(_ADDRESS.match(address))


def normalize(address: str) -> str:
    """Return the address as the CRM compares it: trimmed and lower-cased."""
    return address.strip().lower()


def header_addresses(values: Iterable[str]) -> list[str]:
    """Return the addresses named in header values (``Name <a@b>, c@d``), keeping unparseable entries.

    An entry that is not an address is kept verbatim (trimmed) so the CRM can record it as an unresolved
    party; empty entries and empty groups (``undisclosed-recipients:;``) are dropped.
    """
    return [_address(entry) for value in values for entry in _entries(value)]


@functools.lru_cache(maxsize=4096)
def _address(entry: str) -> str:
    """The address of one header entry, or the entry itself when it names none (remembered: the same
    senders and recipients come back message after message, and parsing is the costly part)."""
    address = parseaddr(entry)[1].strip()
    return address if is_valid_address(address) else entry


def _entries(value: str) -> list[str]:
    """Split a header value on commas and semicolons outside quotes, comments and angle brackets."""
    entries, current, quoted, depth = [], "", False, 0
    for char in value:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "<(":
            depth += 1
        elif not quoted and char in ">)" and depth:
            depth -= 1
        if char in ",;" and not quoted and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += char
    entries.append(current)
    return [e for e in (_without_group_name(e.strip()) for e in entries) if e]


def _without_group_name(entry: str) -> str:
    """Drop an RFC 5322 group name (``team: a@b`` -> ``a@b``)."""
    name, colon, rest = entry.partition(":")
    if colon and "@" not in name and "<" not in name and '"' not in name:
        return rest.strip()
    return entry


def to_wire(values: Iterable[str]) -> str:
    """Return header values as the CRM address string: bare addresses separated by ``; ``."""
    return SEPARATOR.join(header_addresses(values))


def from_wire(text: str) -> list[str]:
    """Split a CRM address string (``;`` or ``,`` separated) into its entries, dropping empty ones."""
    return [part.strip() for part in re.split(r"[;,]", text or "") if part.strip()]
