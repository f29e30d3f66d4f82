"""Mailbox addresses as the outgoing pipeline uses them: validated, normalised, safe to put in headers.

CRM activity parties carry free text typed by users, so an address may have stray spaces, angle
brackets, a non-ASCII domain, or a display name with a line break pasted into it. ``normalize_address``
turns what can be repaired into a plain ASCII addr-spec (the domain in IDNA form, because the router
submits 7-bit MIME without SMTPUTF8) and refuses the rest with a ``ValueError`` that says what is wrong;
``clean_display_name`` makes a display name safe for a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import errors as email_errors
from email.headerregistry import Address

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class MailAddress:
    """One mailbox: its address and an optional display name (a CRM activity party, or the sender)."""

    address: str
    name: str = ""


def normalize_address(raw: str) -> str:
    """Return ``raw`` as an ASCII addr-spec with an IDNA domain, or raise ``ValueError`` saying why not.

    Surrounding whitespace and one pair of angle brackets are removed, since users paste addresses in
    both forms. A non-ASCII local part is refused: it needs SMTPUTF8, which the router does not use.
    """
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        raise ValueError("the address is empty")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{raw!r} is not an address of the form name@domain")
    if not local.isascii():
        raise ValueError(f"{raw!r} has non-ASCII characters before the @, which needs SMTPUTF8")
    spec = f"{local}@{_ascii_domain(domain, raw)}"
    try:
        parsed = Address(addr_spec=spec)
    except (ValueError, email_errors.MessageError) as exc:
        raise ValueError(f"{raw!r} is not a valid address: {exc}") from exc
    return parsed.addr_spec


def _ascii_domain(domain: str, raw: str) -> str:
    """Return the domain in its ASCII (IDNA) form, lower-cased."""
    if domain.startswith("[") and domain.endswith("]"):
        return domain
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"{raw!r} has a domain that is not a valid host name: {exc}") from exc


def clean_display_name(name: str) -> str:
    """Return ``name`` with control characters (CR, LF, tab) replaced and runs of spaces collapsed.

    A line break in a display name would otherwise end the header and let the rest of the name be
    read as a header of its own.
    """
    return _SPACES.sub(" ", _CONTROL.sub(" ", name)).strip()


def header_address(mailbox: MailAddress) -> Address:
    """Return ``mailbox`` as an ``email`` header address, normalised (raises ``ValueError`` if invalid)."""
    spec = normalize_address(mailbox.address)
    return Address(display_name=clean_display_name(mailbox.name), addr_spec=spec)


def domain_of(address: str) -> str:
    """Return the ASCII domain of ``address`` (raises ``ValueError`` if the address is invalid)."""
    return normalize_address(address).rpartition("@")[2]
