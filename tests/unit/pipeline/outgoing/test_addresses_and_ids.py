"""Addresses are normalised or refused with a reason; Message-IDs are ours, unique, and checked."""

from __future__ import annotations

import uuid

import pytest

from router.errors import MessageError
from router.pipeline.outgoing.addresses import (
    MailAddress,
    clean_display_name,
    domain_of,
    header_address,
    normalize_address,
)
from router.pipeline.outgoing.message_id import new_message_id, normalize_message_id, split_message_ids


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anna@contoso.com", "anna@contoso.com"),
        ("  <Anna.Berg@Contoso.COM> ", "Anna.Berg@contoso.com"),
        ("jorg@bücher.de", "jorg@xn--bcher-kva.de"),
        ('"a b"@example.com', '"a b"@example.com'),
    ],
)
def test_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalize_address(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("no-at-sign", "name@domain"),
        ("user@", "name@domain"),
        ("jörg@example.com", "SMTPUTF8"),
        ("a b@example.com", "not a valid address"),
        ("a@" + "x" * 70 + ".com", "not a valid host name"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_address(raw)


def test_display_names_cannot_inject_headers() -> None:
    assert clean_display_name("Anna\r\nBcc: evil@x.test\t Berg ") == "Anna Bcc: evil@x.test Berg"
    address = header_address(MailAddress("anna@contoso.com", "Berg, Anna\n"))
    assert str(address) == '"Berg, Anna" <anna@contoso.com>'
    assert domain_of("x@Bücher.de") == "xn--bcher-kva.de"


def test_new_message_ids_are_unique_and_carry_the_domain() -> None:
    ids = {new_message_id("contoso.com") for _ in range(200)}
    assert len(ids) == 200
    token = uuid.UUID(int=42)
    assert new_message_id("Bücher.DE", token=token) == f"<{token.hex}@xn--bcher-kva.de>"


@pytest.mark.parametrize("domain", ["", "bad domain", "-x.com", "a..b"])
def test_message_id_refuses_a_bad_domain(domain: str) -> None:
    with pytest.raises(MessageError, match="not a valid host name") as info:
        new_message_id(domain)
    assert "CRM" in info.value.hint


def test_foreign_message_ids_are_checked() -> None:
    assert normalize_message_id(" abc@host ") == "<abc@host>"
    assert normalize_message_id("<abc@host>") == "<abc@host>"
    assert normalize_message_id("<a b@host>") is None
    assert normalize_message_id("<ä@host>") is None
    assert normalize_message_id("<" + "x" * 950 + ">") is None
    assert split_message_ids("<a@x>\r\n <b@y> (comment) <c d@z>") == ["<a@x>", "<b@y>"]
    assert split_message_ids("a@x b@y") == ["<a@x>", "<b@y>"]
