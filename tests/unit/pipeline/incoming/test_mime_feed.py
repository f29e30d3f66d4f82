"""``parse_mime`` is ``email.message_from_bytes`` (compat32), tree for tree, on every kind of message.

The faster parse must not change a single header, payload, preamble, epilogue or defect: it is
compared with the stdlib's on the hostile corpus, on the benchmark's realistic messages, on
boundaries full of regex metacharacters and on generated messages (broken ones too). Likewise the
filename shortcut of ``part_filename``: a part it skips is one where the stdlib finds no name.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.harness.messages import SIZES, Envelope, build_message
from router.pipeline.incoming.attachments import _may_name_a_file
from router.pipeline.incoming.mime_feed import BoundaryPattern, boundary_separator, parse_mime
from tests.support.generated_mail import messages
from tests.unit.pipeline.incoming.builders import corpus, corpus_names

TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
"""The rest of the pattern the stdlib feed parser (3.11, 3.12) compiles for a boundary."""


def shape(message: Message) -> Any:
    """Everything a parse decides about a message tree, as plain comparable values."""
    payload = message._payload
    children = [shape(part) for part in payload] if isinstance(payload, list) else payload
    return (message._headers, message._unixfrom, message.preamble, message.epilogue,
            message.get_default_type(), [type(d).__name__ for d in message.defects], children)


def assert_same_parse(data: bytes) -> None:
    assert shape(parse_mime(data)) == shape(email.message_from_bytes(data))


@pytest.mark.parametrize("name", corpus_names())
def test_corpus_parses_as_the_stdlib_does(name: str) -> None:
    assert_same_parse(corpus(name))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_benchmark_messages_parse_as_the_stdlib_does(size: str) -> None:
    for seed in range(5):
        env = Envelope("carol@fabrikam.com", "bert@contoso.com", f"Question {seed}",
                       f"<q{seed}@fabrikam.com>")
        assert_same_parse(build_message(env, SIZES[size], seed=seed))


@pytest.mark.parametrize("boundary", ["simple", "a.b*c+d?(e)[f]{g}|h^i$j\\k", "with space", "--dashes--",
                                      "=_Part_0_12.34", "x" * 70])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_boundaries_with_metacharacters_parse_as_the_stdlib_does(boundary: str, newline: str) -> None:
    text = newline.join([
        "From: carol@fabrikam.com", "Subject: parts", "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"', "", "preamble",
        f"--{boundary}", "Content-Type: text/plain", "", "one",
        f"--{boundary}  ", "Content-Type: text/html", "", "<p>two</p>",
        f"--{boundary}X", "not a boundary: a longer token",
        f"--{boundary}--", "epilogue", ""])
    assert_same_parse(text.encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_messages_parse_as_the_stdlib_does(data: bytes) -> None:
    assert_same_parse(data)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40))
def test_boundary_matcher_matches_what_the_stdlib_pattern_matches(boundary: str) -> None:
    separator = "--" + boundary
    source = "(?P<sep>" + re.escape(separator) + TAIL
    assert boundary_separator(source) == separator
    compiled, matcher = re.compile(source), BoundaryPattern(separator)
    for line in (separator, separator + "\n", separator + "--\r\n", separator + " \t\n", separator + "x\n",
                 "x" + separator, separator[:-1], separator + "-- trailing\n", ""):
        expected, found = compiled.match(line), matcher.match(line)
        assert (found is None) == (expected is None), line
        if expected is not None and found is not None:
            assert found.group("end", "linesep") == expected.group("end", "linesep")


def test_other_patterns_are_not_taken_for_boundaries() -> None:
    assert boundary_separator(r"^(From |[\041-\071\073-\176]*:|[\t ])") is None
    assert boundary_separator("(?P<sep>a(b" + TAIL) is None


def _parts(message: Message) -> list[Message]:
    parts = [message]
    payload = message.get_payload()
    if isinstance(payload, list):
        for part in payload:
            parts.extend(_parts(part))
    return parts


def assert_filename_shortcut_holds(data: bytes) -> None:
    """A part ``part_filename`` skips (``_may_name_a_file`` false) is one the stdlib finds no name in."""
    for part in _parts(email.message_from_bytes(data)):
        if not _may_name_a_file(part):
            assert part.get_filename() is None
            assert part.get_param("filename", header="content-disposition") is None
            assert part.get_param("name") is None


@pytest.mark.parametrize("name", corpus_names())
def test_parts_skipped_by_the_filename_shortcut_have_no_name_corpus(name: str) -> None:
    assert_filename_shortcut_holds(corpus(name))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_parts_skipped_by_the_filename_shortcut_have_no_name_generated(data: bytes) -> None:
    assert_filename_shortcut_holds(data)
