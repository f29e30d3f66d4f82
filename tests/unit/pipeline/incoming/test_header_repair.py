"""A line without a colon inside the header block is dropped, so the fields after it stay headers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.pipeline.incoming.header_repair import _repair, repair_header_block
from router.pipeline.incoming.parse import parse_message
from tests.unit.pipeline.incoming.builders import corpus, corpus_names

BROKEN = (b"From: carol@fabrikam.com\r\nSubject: hello\r\nHeader-Without-Colon\r\n"
          b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          b"caf=C3=A9\r\n")


def test_the_fields_after_a_stray_line_stay_headers_and_the_repair_is_a_defect() -> None:
    parsed = parse_message(BROKEN)
    assert parsed.body_text == "café\n"
    [defect] = [d for d in parsed.defects if d.code == "header-line-dropped"]
    assert "'Header-Without-Colon'" in defect.detail


def test_a_sound_block_folds_and_bodies_are_left_alone() -> None:
    sound = b"From: a@b.c\r\nSubject: one\r\n two\r\n\r\nBody line without colon\r\nX: y\r\n"
    assert repair_header_block(sound) == (sound, [])
    trailing = b"From: a@b.c\r\nSubject: s\r\nnot a field\r\n\r\nbody\r\n"
    assert repair_header_block(trailing) == (trailing, []), "nothing after it is a field: left to the parser"
    assert repair_header_block(b"just text\r\nFrom: a@b.c\r\n\r\n")[1] == [], "no header before it"


PIECES = (b"From: a@b.c", b"Subject: s", b"X-Empty:", b"Name :v", b" folded", b"\tfolded", b"no colon here",
          b":starts with colon", b"\xff\xfe", b"", b"Header-Without-Colon", b"body text")
NEWLINES = (b"\r\n", b"\n", b"\r")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(NEWLINES)), max_size=14))
def test_the_quick_check_answers_as_the_line_by_line_repair(lines: list[tuple[bytes, bytes]]) -> None:
    raw = b"".join(text + newline for text, newline in lines)
    assert repair_header_block(raw) == _repair(raw)


@pytest.mark.parametrize("name", corpus_names())
def test_the_quick_check_answers_as_the_line_by_line_repair_on_the_corpus(name: str) -> None:
    raw = corpus(name)
    assert repair_header_block(raw) == _repair(raw)


def test_the_quick_check_lets_a_repairable_block_through() -> None:
    assert repair_header_block(BROKEN)[1] == ["Header-Without-Colon"]
    assert repair_header_block(BROKEN.replace(b"\r\n", b"\r"))[1] == ["Header-Without-Colon"]
