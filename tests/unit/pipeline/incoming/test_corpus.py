"""The hostile MIME corpus: every message ends as a parse result or a documented MessageError.

Each corpus file is run through every pure step (parse, attachment content, screening, size policy,
unwrapping); none may raise anything but ``MessageError``, and each has its specific expectations.
Large and deeply nested messages are generated here instead of being committed.
"""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

import pytest

from router.errors import MessageError
from router.pipeline.incoming import (
    Importance,
    ParsedMessage,
    ScreeningPolicy,
    SizeMode,
    SizePolicy,
    SkipReason,
    apply_size_policy,
    parse_message,
    screen,
    unwrap_forward,
)
from tests.unit.pipeline.incoming.builders import corpus, corpus_names, mime

NOT_MESSAGES = {
    "zero-byte.eml": "empty",
    "only-whitespace.eml": "empty",
    "binary-not-a-message.eml": "no header fields",
}
"""Corpus files that are not messages at all: parse_message raises MessageError naming why."""


def exercise(parsed: ParsedMessage, policy: ScreeningPolicy) -> None:
    """Run every downstream pure step over ``parsed``; only MessageError may escape content()."""
    for attachment in parsed.attachments:
        try:
            assert isinstance(attachment.content(), bytes)
        except MessageError as exc:
            assert exc.hint
    assert screen(parsed, "IPM.Note", policy).code
    assert apply_size_policy(parsed, SizePolicy(max_message_bytes=1000)).reason
    assert unwrap_forward(parsed).text
    for name in parsed.headers.names():
        assert parsed.headers.get(name) is not None
    assert str(parsed.key).startswith("<") and str(parsed.key).endswith(">")


@pytest.mark.parametrize("name", corpus_names())
def test_every_corpus_message_parses_or_is_refused_clearly(name: str, policy: ScreeningPolicy) -> None:
    raw = corpus(name)
    if name in NOT_MESSAGES:
        with pytest.raises(MessageError, match=NOT_MESSAGES[name]) as caught:
            parse_message(raw)
        assert caught.value.hint
        return
    parsed = parse_message(raw)
    assert parsed.size == len(raw)
    exercise(parsed, policy)


def test_the_corpus_covers_the_hostile_cases() -> None:
    names = set(corpus_names())
    assert len(names) >= 35
    for expected in ("wrong-charset.eml", "unknown-charset.eml", "header-8bit.eml", "broken-base64.eml",
                     "nested-messages.eml", "missing-message-id.eml", "missing-date.eml", "zero-byte.eml",
                     "boundary-never-found.eml", "rfc2047-garbage.eml", "nul-bytes.eml",
                     "long-header-line.eml"):
        assert expected in names


def codes(parsed: ParsedMessage) -> set[str]:
    return {defect.code for defect in parsed.defects}


def test_well_formed_message_has_every_field_and_no_defect() -> None:
    parsed = parse_message(corpus("plain-well-formed.eml"))
    assert parsed.defects == ()
    assert parsed.key.value == "<CAF123.alice@mail.fabrikam.example>" and not parsed.key.derived
    assert parsed.subject == "Order 4711 CRM:0001001"
    assert [(m.name, m.address) for m in parsed.from_] == [("Alice Customer", "alice@fabrikam.example")]
    assert parsed.from_address == "alice@fabrikam.example"
    assert parsed.date == datetime(2024, 1, 2, 8, 30, tzinfo=UTC)
    assert parsed.in_reply_to == "<out-1@contoso.example>"
    assert parsed.references == ("<root@contoso.example>", "<out-1@contoso.example>")
    assert parsed.thread_topic == "Order 4711"
    assert parsed.thread_index == "AdpCx1Yb3mY0yDk7QzKx5d9w8qXbPA=="
    assert parsed.importance is Importance.HIGH
    assert parsed.body_text == "Please ship order 4711.\n"
    assert parsed.body_html == "<p>Please ship order <b>4711</b>.</p>\n"
    assert parsed.attachments == ()


def test_utf8_mislabelled_as_ascii_and_latin1_labelled_utf8_are_both_repaired() -> None:
    parsed = parse_message(corpus("wrong-charset.eml"))
    assert parsed.subject == "Grüße"
    assert parsed.body_text == "Grüße aus München \u2013 10 €\n"
    assert parsed.body_html == "<p>Grüße</p>\n"
    assert {("charset-mismatch", "part 1"), ("charset-mismatch", "part 2"), ("charset-mismatch", "Subject")} \
        <= {(d.code, d.where) for d in parsed.defects}


def test_unknown_charsets_fall_back_without_losing_text() -> None:
    parsed = parse_message(corpus("unknown-charset.eml"))
    assert parsed.subject == "qapla' and not a text codec"
    assert parsed.body_text == "Preis: 12,50 €\n\n"
    assert "charset-unknown" in codes(parsed)


def test_undeclared_8bit_body_is_read_as_windows_1252() -> None:
    parsed = parse_message(corpus("missing-charset-8bit.eml"))
    assert parsed.body_text is not None and parsed.body_text.startswith("Café crème à 3 €")
    assert "charset-missing" in codes(parsed)


def test_raw_8bit_headers_are_decoded_as_utf8() -> None:
    parsed = parse_message(corpus("header-8bit.eml"))
    assert parsed.subject == "Résumé für Frau Öztürk"
    assert parsed.from_[0].name == "José Müller"
    assert [m.name for m in parsed.to] == ["Zoë", "Øystein"]
    assert parsed.headers.get("X-Legacy") == "café crème"
    assert "header-8bit" in codes(parsed)


def test_broken_base64_decodes_what_it_can() -> None:
    parsed = parse_message(corpus("broken-base64.eml"))
    assert parsed.body_text == "Hello world"
    report, lone = parsed.attachments
    assert report.filename == "report.pdf" and report.content().startswith(b"%PDF-1.4\n")
    assert lone.content() == b"" and lone.size == 0


def test_nested_messages_are_one_attachment_whose_bytes_parse_again() -> None:
    parsed = parse_message(corpus("nested-messages.eml"))
    assert parsed.body_text == "see attached"
    (middle,) = parsed.attachments
    assert middle.filename == "middle.eml" and middle.content_type == "message/rfc822"
    inner = parse_message(middle.content())
    assert inner.key.value == "<middle@fabrikam.example>" and inner.body_text == "middle text"
    innermost = parse_message(inner.attachments[0].content())
    assert innermost.subject == "innermost" and innermost.body_text == "deep text"


def test_missing_message_id_gives_a_stable_derived_key() -> None:
    raw = corpus("missing-message-id.eml")
    first, second = parse_message(raw), parse_message(raw)
    assert first.key.derived and first.message_id is None
    assert first.key == second.key
    assert first.key.value.endswith("@derived.email-router.invalid>")
    assert "message-id-missing" in codes(first)


@pytest.mark.parametrize(("name", "code"), [("missing-date.eml", "date-missing"),
                                            ("garbled-date.eml", "date-invalid")])
def test_missing_or_garbled_date_is_none(name: str, code: str) -> None:
    parsed = parse_message(corpus(name))
    assert parsed.date is None and code in codes(parsed)


def test_multipart_without_usable_boundary_is_kept_as_text() -> None:
    parsed = parse_message(corpus("boundary-missing-param.eml"))
    assert parsed.body_text and "text" in parsed.body_text
    assert "multipart-unreadable" in codes(parsed)


def test_a_body_using_another_boundary_than_declared_is_read_with_the_one_it_uses() -> None:
    parsed = parse_message(corpus("boundary-never-found.eml"))
    assert parsed.body_text == "text that is not in any part"
    assert "boundary-mismatch" in codes(parsed) and "multipart-unreadable" not in codes(parsed)


def test_unterminated_multipart_keeps_the_parts_before_the_cut() -> None:
    parsed = parse_message(corpus("boundary-unterminated.eml"))
    assert parsed.body_text == "first part"
    assert parsed.attachments[0].filename == "a.zip"
    assert parsed.attachments[0].content().startswith(b"PK\x03\x04")
    assert "CloseBoundaryNotFoundDefect" in codes(parsed)


def test_rfc2047_garbage_is_decoded_leniently() -> None:
    parsed = parse_message(corpus("rfc2047-garbage.eml"))
    assert parsed.subject.startswith("é")
    assert "=?utf-8?X?bad?=" in parsed.subject  # not an encoded word: kept as written
    assert parsed.from_[0].address == "oscar@fabrikam.example"
    assert {"encoded-word-invalid", "charset-unknown"} <= codes(parsed)


def test_nul_bytes_are_removed_and_a_nul_message_id_is_not_trusted() -> None:
    parsed = parse_message(corpus("nul-bytes.eml"))
    assert parsed.subject == "nullbyte here"
    assert parsed.body_text is not None and "\x00" not in parsed.body_text
    assert parsed.body_text.startswith("line one line two")
    assert parsed.key.derived and "message-id-invalid" in codes(parsed)
    assert parsed.headers.get("X-Nul") == ""


def test_very_long_header_lines_are_kept_and_references_trimmed() -> None:
    parsed = parse_message(corpus("long-header-line.eml"))
    assert len(parsed.subject) == len("word " * 4000) - 1
    assert len(parsed.references) == 100
    assert parsed.references[0] == "<ref0@fabrikam.example>"
    assert parsed.references[-1] == "<ref399@fabrikam.example>"
    assert "references-trimmed" in codes(parsed)


def test_message_id_comment_and_repeat_are_handled() -> None:
    parsed = parse_message(corpus("message-id-oddities.eml"))
    assert parsed.message_id == "<abc123@fabrikam.example>"
    assert parsed.in_reply_to == "<parent@contoso.example>"
    assert "message-id-repeated" in codes(parsed)


def test_absurdly_long_message_id_is_replaced_by_a_derived_key() -> None:
    parsed = parse_message(corpus("message-id-too-long.eml"))
    assert parsed.message_id is None and parsed.key.derived


def test_invalid_addresses_are_kept_and_flagged() -> None:
    parsed = parse_message(corpus("invalid-addresses.eml"))
    assert parsed.from_[0].address == "<>" and not parsed.from_[0].valid
    assert parsed.from_address is None
    assert parsed.to == ()
    assert [(m.address, m.valid) for m in parsed.cc] == [
        ("@@@", False), ("a@b@c", False), ("quoted@fabrikam.example", True),
        ("one@fabrikam.example", True), ("two@fabrikam.example", True)]
    assert parsed.cc[2].name == "Quoted, Name"
    assert parsed.bcc[0].address == "not an address at all" and not parsed.bcc[0].valid
    assert not parsed.reply_to[0].valid
    assert sum(d.code == "address-invalid" for d in parsed.defects) == 5


def test_bare_lf_and_leading_blank_lines_are_tolerated() -> None:
    assert parse_message(corpus("bare-lf-line-endings.eml")).body_text == "line 1\nline 2\n\n"
    parsed = parse_message(corpus("leading-blank-lines.eml"))
    assert parsed.subject == "blank lines first" and "leading-blank-lines" in codes(parsed)


def test_attachment_filenames_are_decoded_and_made_safe() -> None:
    parsed = parse_message(corpus("filenames-encoded.eml"))
    names = [a.filename for a in parsed.attachments]
    assert names == ["Angebot Müller.pdf", "Prüfung.xls", "evil.txt", "attachment-4.png", "xAy.bin"]
    logo = parsed.attachments[3]
    assert logo.content_id == "logo@fabrikam.example" and logo.inline
    assert parsed.attachments[0].content() == b"%PDF-1.4 angebot"


def test_html_body_charset_is_sniffed_from_meta() -> None:
    parsed = parse_message(corpus("html-only-meta-charset.eml"))
    assert parsed.body_text is None
    assert parsed.body_html is not None and "Привет" in parsed.body_html


def test_uuencode_decodes_and_broken_uuencode_keeps_raw_bytes() -> None:
    parsed = parse_message(corpus("uuencode-attachment.eml"))
    good, broken = parsed.attachments
    assert good.content() == b"abc"
    assert broken.content().startswith(b"begin 644 broken.txt")


def test_text_after_an_inline_image_becomes_an_inline_text_attachment() -> None:
    parsed = parse_message(corpus("apple-split-text.eml"))
    assert parsed.body_text == "before the image"
    photo, after = parsed.attachments
    assert photo.inline and photo.filename == "photo.jpg"
    assert after.content() == b"after the image" and after.content_type == "text/plain"


def test_huge_message_parses_without_decoding_its_attachment() -> None:
    payload = random.Random(7).randbytes(6 * 1024 * 1024)
    encoded = base64.encodebytes(payload).decode("ascii")
    raw = mime("Content-Type: multipart/mixed; boundary=h",
               body=f"--h\r\nContent-Type: text/plain\r\n\r\nbig one\r\n--h\r\n"
                    f"Content-Type: application/octet-stream; name=\"big.bin\"\r\n"
                    f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--h--")
    parsed = parse_message(raw)
    (big,) = parsed.attachments
    assert parsed.size == len(raw) > 8 * 1024 * 1024
    assert big.size == len(payload) and big.encoded_size >= len(encoded) - 2
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=1024 * 1024, mode=SizeMode.STRIP))
    assert decision.notify and decision.kept == () and decision.stripped == (big,)
    assert big.content() == payload


def nested_multiparts(depth: int) -> bytes:
    opening = "".join(f"Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
                      for i in range(depth))
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    return f"From: a@fabrikam.example\r\n{opening}Content-Type: text/plain\r\n\r\ndeep\r\n{closing}".encode()


def test_deep_nesting_is_cut_with_a_defect() -> None:
    parsed = parse_message(nested_multiparts(120))
    assert parsed.body_text is None
    assert "nesting-too-deep" in codes(parsed)


def test_nesting_beyond_the_parser_is_refused_with_message_error() -> None:
    with pytest.raises(MessageError, match="nested too deeply"):
        parse_message(nested_multiparts(3000))


def test_an_attached_message_too_deep_to_regenerate_fails_only_when_opened() -> None:
    inner = "From: a@fabrikam.example\r\n\r\nbottom\r\n"
    for _ in range(600):
        inner = f"From: a@fabrikam.example\r\nContent-Type: message/rfc822\r\n\r\n{inner}"
    raw = mime("Content-Type: multipart/mixed; boundary=x",
               body="--x\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
                    f"--x\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--x--")
    parsed = parse_message(raw)
    (attached,) = parsed.attachments
    assert parsed.body_text == "see" and attached.size > 0
    with pytest.raises(MessageError, match="could not be regenerated"):
        attached.content()


def mutations(raw: bytes, rng: random.Random) -> bytes:
    """Return ``raw`` damaged at random: bytes flipped, cut, duplicated or spliced with noise."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        if not data:
            break
        at = rng.randrange(len(data))
        action = rng.randrange(4)
        if action == 0:
            data[at] = rng.randrange(256)
        elif action == 1:
            del data[at:at + rng.randint(1, 40)]
        elif action == 2:
            data[at:at] = data[max(0, at - 30):at]
        else:
            data[at:at] = rng.choice([b"\x00", b"=?", b"?=", b"--", b"\r\n\r\n", b"<", b"\xff\xfe", b":"])
    return bytes(data)


def test_randomly_damaged_corpus_never_raises_anything_but_message_error(policy: ScreeningPolicy) -> None:
    rng = random.Random(20240102)
    seeds = [corpus(name) for name in corpus_names() if name not in NOT_MESSAGES
             and name != "long-header-line.eml"]
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(400):
        raw = mutations(rng.choice(seeds), rng)
        try:
            parsed = parse_message(raw)
        except MessageError:
            outcomes["refused"] += 1
            continue
        exercise(parsed, policy)
        outcomes["parsed"] += 1
    assert outcomes["parsed"] > 300


def test_screening_decisions_for_the_corpus_machine_mail(policy: ScreeningPolicy) -> None:
    def reason(name: str) -> SkipReason | None:
        return screen(parse_message(corpus(name)), "IPM.Note", policy).reason

    assert reason("exchange-oof.eml") is SkipReason.AUTO_SUBMITTED
    assert reason("dsn-bounce.eml") is SkipReason.DELIVERY_REPORT
    assert reason("mdn-read-receipt.eml") is SkipReason.DISPOSITION_NOTIFICATION
    assert reason("plain-well-formed.eml") is None
