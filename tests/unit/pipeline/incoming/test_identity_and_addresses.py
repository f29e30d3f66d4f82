"""Message identity (Message-ID, references, derived keys) and address lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.pipeline.incoming import Importance, Mailbox, parse_message
from router.pipeline.incoming.addresses import is_valid_address, parse_address_headers, split_addresses
from router.pipeline.incoming.message_ids import (
    MAX_REFERENCES,
    derive_message_key,
    normalize_message_id,
    parse_references,
)
from tests.unit.pipeline.incoming.builders import mime


@pytest.mark.parametrize(("raw", "normalized"), [
    ("<a@b>", "<a@b>"),
    ("  <a@b>  ", "<a@b>"),
    ("a@b", "<a@b>"),
    ("(comment) <a@b> (another)", "<a@b>"),
    ("((nested) comment) a@b", "<a@b>"),
    ("<very-long-id-folded\r\n @example.org>", "<very-long-id-folded@example.org>"),
    ("<CaseKept@Example.ORG>", "<CaseKept@Example.ORG>"),
    ("", None), ("<>", None), ("   ", None), ("<a b@c>", "<ab@c>"),
    ("<caf\udcc3\udca9@x>", None), ("<nul\x00@x>", None), ("<" + "x" * 400 + "@x>", None),
])
def test_message_id_normalisation(raw: str, normalized: str | None) -> None:
    assert normalize_message_id(raw) == normalized


def test_references_keep_the_root_and_the_latest() -> None:
    raw = " ".join(f"<r{i}@x>" for i in range(MAX_REFERENCES + 50)) + " <r0@x>"
    refs, trimmed = parse_references(raw)
    assert trimmed and len(refs) == MAX_REFERENCES
    assert refs[0] == "<r0@x>" and refs[1] == "<r51@x>" and refs[-1] == f"<r{MAX_REFERENCES + 49}@x>"
    assert parse_references("a@x b@y junk") == (("<a@x>", "<b@y>"), False)
    assert parse_references(None) == ((), False)


def test_derived_key_is_deterministic_and_sensitive_to_content() -> None:
    headers = [("From", "a@x"), ("Subject", "hello")]
    key = derive_message_key(headers, ["body"], [("f.pdf", "application/pdf", 10)])
    assert key.derived and key == derive_message_key(headers, ["body"], [("f.pdf", "application/pdf", 10)])
    assert key != derive_message_key(headers, ["body!"], [("f.pdf", "application/pdf", 10)])
    assert key != derive_message_key(headers, ["body"], [("f.pdf", "application/pdf", 11)])
    assert key != derive_message_key([("From", "a@x"), ("Subject", "hello2")], ["body"], [])
    # Field boundaries are length-prefixed: moving text between fields changes the key.
    shifted = derive_message_key([("Subject", "a")], ["bc"], [])
    assert derive_message_key([("Subject", "ab")], ["c"], []) != shifted


def test_two_copies_of_one_message_share_a_derived_key() -> None:
    """The same message fetched from two mailboxes: other transport headers, LF instead of CRLF, and
    a regenerated MIME boundary. Its derived key must not change."""
    body = ("--{b}\r\nContent-Type: text/plain\r\n\r\nSame words.\r\n--{b}\r\n"
            "Content-Type: text/html\r\n\r\n<p>Same words.</p>\r\n--{b}--")
    first = mime("Message-ID: x", "Received: from a by mailbox-1",
                 "Content-Type: multipart/alternative; boundary=one", body=body.format(b="one"))
    second = mime("Message-ID: x", "Received: from b by mailbox-2", "Return-Path: <x@y>",
                  "Content-Type: multipart/alternative; boundary=\"_000_two_\"",
                  body=body.format(b="_000_two_"))
    first = first.replace(b"Message-ID: x\r\n", b"")
    second = second.replace(b"Message-ID: x\r\n", b"").replace(b"\r\n", b"\n")
    key_one, key_two = parse_message(first).key, parse_message(second).key
    assert key_one.derived and key_one == key_two
    changed = parse_message(first.replace(b"Same words.", b"Other words."))
    assert changed.key != key_one


def test_real_message_id_is_the_key() -> None:
    parsed = parse_message(mime("Message-ID: <abc@fabrikam.example>"))
    assert parsed.key.value == "<abc@fabrikam.example>" and not parsed.key.derived
    assert str(parsed.key) == "<abc@fabrikam.example>"


@pytest.mark.parametrize(("text", "chunks"), [
    ('"Doe, John" <j@x>, k@y', ['"Doe, John" <j@x>', "k@y"]),
    ("a@x (Smith, Al), b@y", ["a@x (Smith, Al)", "b@y"]),
    ("<a,b@x>, c@y", ["<a,b@x>", "c@y"]),
    ("undisclosed-recipients:;", []),
    ("Team: a@x, b@y;, c@z", ["a@x", "b@y", "c@z"]),
    ('"Team: not a group" <t@x>', ['"Team: not a group" <t@x>']),
    ('"escaped \\" quote, still" <q@x>', ['"escaped \\" quote, still" <q@x>']),
    (",,, ;", []),
])
def test_address_splitting(text: str, chunks: list[str]) -> None:
    assert split_addresses(text) == chunks


@pytest.mark.parametrize(("address", "valid"), [
    ("a@b.example", True), ("first.last+tag@sub.example.org", True), ('"john doe"@x.example', True),
    ("josé@exämple.example", True), ("a@[192.0.2.1]", True), ("a@b", True),
    ("", False), ("a", False), ("@b", False), ("a@", False), ("a@b@c", False), ("a b@c", False),
    ("a@b..c", False), ("a@" + "b" * 400, False),
])
def test_address_validity(address: str, valid: bool) -> None:
    assert is_valid_address(address) is valid


def test_address_headers_decode_names_and_keep_invalid_entries() -> None:
    boxes = parse_address_headers(["=?utf-8?q?M=C3=BCller=2C_Hans?= <h@m.example>, garbage here",
                                   "second@header.example"])
    assert boxes == (Mailbox("Müller, Hans", "h@m.example"), Mailbox("", "garbage here", False),
                     Mailbox("", "second@header.example"))
    assert str(boxes[0]) == "Müller, Hans <h@m.example>" and boxes[0].normalized == "h@m.example"


@pytest.mark.parametrize(("headers", "importance"), [
    ((), Importance.NORMAL), (("Importance: High",), Importance.HIGH), (("Importance: low",), Importance.LOW),
    (("X-Priority: 1 (Highest)",), Importance.HIGH), (("X-Priority: 5",), Importance.LOW),
    (("X-Priority: 3",), Importance.NORMAL), (("X-MSMail-Priority: High",), Importance.HIGH),
    (("Priority: non-urgent",), Importance.LOW), (("Importance: weird", "X-Priority: 2"), Importance.HIGH),
])
def test_importance(headers: tuple[str, ...], importance: Importance) -> None:
    assert parse_message(mime(*headers)).importance is importance


@pytest.mark.parametrize(("date", "expected"), [
    ("Tue, 02 Jan 2024 09:30:00 +0100", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
    ("2 Jan 2024 09:30:00 -0000", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
    ("Tue, 02 Jan 2024 09:30:00 GMT", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
    ("yesterday", None), ("", None), ("Tue, 02 Jan 99999 09:30:00 +0100", None),
])
def test_dates_are_aware_utc_or_none(date: str, expected: datetime | None) -> None:
    parsed = parse_message(mime(f"Date: {date}"))
    assert parsed.date == expected
    if parsed.date is not None:
        assert parsed.date.tzinfo is UTC and parsed.date.utcoffset() == timedelta(0)
