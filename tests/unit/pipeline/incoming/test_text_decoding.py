"""Charsets and header text: tolerant decoding that never raises and says when it guessed."""

from __future__ import annotations

import pytest

from router.pipeline.incoming.charsets import decode_text, resolve_codec, sniff_html_charset
from router.pipeline.incoming.header_text import HeaderView, decode_encoded_words, decode_header_value


@pytest.mark.parametrize(("label", "codec"), [
    ("utf-8", "utf-8-sig"), ("UTF8", "utf-8-sig"), ('"iso-8859-1"', "cp1252"), ("us-ascii", "cp1252"),
    ("gb2312", "gb18030"), ("ks_c_5601-1987", "cp949"), ("windows-874", "cp874"), ("shift_jis", "cp932"),
    ("iso-8859-8-i", "iso8859-8"), ("koi8-r", "koi8-r"),
])
def test_labels_map_to_the_codec_mail_clients_use(label: str, codec: str) -> None:
    assert resolve_codec(label) == codec


@pytest.mark.parametrize("label", [None, "", "x-unknown", "base64", "rot13", "zlib", "undefined",
                                   "unicode_escape", "idna", "\x00", "utf-8\x00"])
def test_unknown_and_non_text_codecs_are_unusable(label: str | None) -> None:
    assert resolve_codec(label) is None


def test_clean_text_has_no_problem() -> None:
    decoded = decode_text("Grüße".encode("iso-8859-1"), "iso-8859-1")
    assert (decoded.text, decoded.problem) == ("Grüße", None)


def test_utf8_under_a_single_byte_label_is_recognised() -> None:
    decoded = decode_text("Grüße".encode(), "iso-8859-1")
    assert (decoded.text, decoded.codec, decoded.problem) == ("Grüße", "utf-8", "charset-mismatch")


def test_cyrillic_in_its_own_single_byte_charset_is_not_mistaken_for_utf8() -> None:
    text = "Здравствуйте, Ёжик"
    assert decode_text(text.encode("cp1251"), "windows-1251").text == text
    assert decode_text(text.encode("koi8-r"), "koi8-r").text == text


def test_latin1_bytes_labelled_utf8_fall_back_to_windows_1252() -> None:
    decoded = decode_text("Preis 12 €, Größe".encode("cp1252"), "utf-8")
    assert decoded.text == "Preis 12 €, Größe" and decoded.problem == "charset-mismatch"


def test_mostly_utf8_with_a_cut_character_keeps_the_utf8() -> None:
    decoded = decode_text("Grüße aus Köln".encode() + b"\xc3", "utf-8")
    assert decoded.text == "Grüße aus Köln\ufffd" and decoded.codec == "utf-8"


@pytest.mark.parametrize(("data", "text", "problem"), [
    (b"plain ascii", "plain ascii", None),
    ("caf\xe9".encode(), "caf\xe9", "charset-missing"),
    (b"caf\xe9", "caf\xe9", "charset-missing"),
    (b"\x81\x8d\x8f", "\ufffd\ufffd\ufffd", "charset-missing"),
])
def test_undeclared_text(data: bytes, text: str, problem: str | None) -> None:
    decoded = decode_text(data, None)
    assert (decoded.text, decoded.problem) == (text, problem)


def test_unknown_label_is_reported_even_when_the_guess_works() -> None:
    assert decode_text(b"hello", "x-klingon").problem == "charset-unknown"


def test_utf16_declared_properly_decodes() -> None:
    assert decode_text("hé".encode("utf-16"), "utf-16").text == "hé"


def test_html_meta_charset_is_sniffed() -> None:
    assert sniff_html_charset(b'<html><head><meta charset="koi8-r">') == "koi8-r"
    assert sniff_html_charset(b"<meta http-equiv=x content='text/html; charset=Shift_JIS'>") == "Shift_JIS"
    assert sniff_html_charset(b"<p>no meta</p>") is None


@pytest.mark.parametrize(("raw", "text"), [
    ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
    ("=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"),
    ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between encoded words is dropped
    ("=?utf-8?q?a?= plain =?utf-8?q?b?=", "a plain b"),
    ("=?utf-8?B?w6k?= =?utf-8?B?w6k=?=", "éé"),  # bad padding tolerated
    ("=?utf-8?B?4oKs?==?utf-8?B?4oKs?=", "€€"),
    ("=?utf-8?B?4g==?= =?utf-8?B?gqw=?=", "€"),  # a character split across two words is joined first
    ("=?iso-8859-1*de?q?Stra=DFe?=", "Straße"),  # RFC 2231 language suffix
    ("x=?utf-8?q?inside?=y", "xinsidey"),
    ("=?utf-8?q?_under_score_?=", " under score "),
])
def test_encoded_words(raw: str, text: str) -> None:
    assert decode_encoded_words(raw)[0] == text


def test_header_value_is_unfolded_cleaned_and_trimmed() -> None:
    decoded = decode_header_value("  first line\r\n\tsecond\x00line\x07 ")
    assert decoded.text == "first line secondline"
    assert decoded.problems == ("control-characters",)


def test_raw_8bit_header_is_decoded_and_flagged() -> None:
    raw = "Gr\udcc3\udcbc\udcc3\udc9fe"  # how compat32 hands over the UTF-8 bytes of "Grüße"
    decoded = decode_header_value(raw)
    assert decoded.text == "Grüße" and decoded.problems == ("header-8bit",)


def test_header_view_is_case_insensitive_and_ordered() -> None:
    view = HeaderView.of([("Received", "a"), ("Subject", "=?utf-8?q?caf=C3=A9?="), ("received", "b")])
    assert view.get("subject") == "café" and view.get_raw("SUBJECT") == "=?utf-8?q?caf=C3=A9?="
    assert view.get_all("Received") == ("a", "b")
    assert "RECEIVED" in view and "Date" not in view and len(view) == 3
    assert view.get("Date") is None and view.get_all("Date") == ()
    assert view.names() == ("Received", "Subject", "received")


def test_utf8_with_more_bad_bytes_than_good_characters_replaces_only_the_bad_bytes() -> None:
    decoded = decode_text("café ".encode() + b"\xff\xfe\xfd", None)
    assert decoded.text == "café \ufffd\ufffd\ufffd" and decoded.codec == "utf-8"
    labelled = decode_text("café ".encode() + b"\xff\xfe\xfd", "utf-8")
    assert labelled.text == "café \ufffd\ufffd\ufffd"
