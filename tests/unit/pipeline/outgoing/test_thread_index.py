"""Thread-Index values round-trip: the time, GUID and reply blocks decode to what was encoded."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from router.errors import MessageError
from router.pipeline.outgoing.thread_index import (
    MAX_RESPONSES,
    child_thread_index,
    new_conversation_index,
    new_thread_index,
    parse_thread_index,
)
from router.pipeline.outgoing.thread_topic import conversation_topic, reply_topic

START = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
GUID = uuid.UUID("8f0e4c2a-1b3d-4e5f-9a7b-6c5d4e3f2a1b")
HEADER_RESOLUTION = timedelta(microseconds=6554)
SHORT_RESOLUTION = timedelta(microseconds=26215)
LONG_RESOLUTION = timedelta(microseconds=838861)


def test_new_index_is_22_bytes_with_reserved_byte_time_and_guid() -> None:
    raw = base64.b64decode(new_thread_index(START, GUID))
    assert len(raw) == 22
    assert raw[0] == 0x01
    assert raw[6:] == GUID.bytes
    parsed = parse_thread_index(new_thread_index(START, GUID))
    assert parsed.guid == GUID
    assert timedelta(0) <= START - parsed.created < HEADER_RESOLUTION
    assert parsed.responses == ()


def test_known_outlook_value_decodes() -> None:
    # The header bytes 01 DC AB 94 9B C6 are the top 48 bits of FILETIME 0x01DCAB949BC60000.
    filetime = 0x01DCAB949BC60000
    expected = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=filetime // 10)
    parsed = parse_thread_index("AdyrlJvGv3PkTCSNS4eQPouiyjghww==")
    assert parsed.created == expected
    assert parsed.created.date() == START.date()


def test_child_records_the_time_since_the_start() -> None:
    parent = new_thread_index(START, GUID)
    reply_at = START + timedelta(hours=5, seconds=3)
    child = parse_thread_index(child_thread_index(parent, reply_at, entropy=0xA5))
    assert len(base64.b64decode(child_thread_index(parent, reply_at))) == 27
    assert child.guid == GUID
    assert child.created == parse_thread_index(parent).created
    (level,) = child.responses
    assert not level.long_delta and (level.random, level.sequence) == (0x0A, 0x05)
    assert timedelta(0) <= reply_at - child.sent_times[1] < SHORT_RESOLUTION + HEADER_RESOLUTION


def test_grandchild_keeps_both_replies_in_order() -> None:
    first = child_thread_index(new_thread_index(START, GUID), START + timedelta(minutes=1))
    second = parse_thread_index(child_thread_index(first, START + timedelta(days=2)))
    assert len(second.responses) == 2
    assert second.sent_times == tuple(sorted(second.sent_times))
    assert abs(second.sent_times[2] - (START + timedelta(days=2))) < SHORT_RESOLUTION + HEADER_RESOLUTION


def test_reply_years_later_uses_the_long_delta_code() -> None:
    later = START + timedelta(days=900)
    child = parse_thread_index(child_thread_index(new_thread_index(START, GUID), later))
    (level,) = child.responses
    assert level.long_delta
    assert abs(child.sent_times[1] - later) < LONG_RESOLUTION + HEADER_RESOLUTION


def test_a_clock_behind_the_parent_counts_as_no_time() -> None:
    child = parse_thread_index(child_thread_index(new_thread_index(START, GUID), START - timedelta(hours=1)))
    assert child.responses[0].stored_delta == 0


def test_encoding_round_trips_byte_for_byte() -> None:
    value = child_thread_index(child_thread_index(new_thread_index(START), START + timedelta(seconds=7)),
                               START + timedelta(days=700))
    assert parse_thread_index(value).encode() == value
    assert parse_thread_index(base64.b64decode(value)).encode() == value


def test_depth_is_capped_and_the_guid_kept() -> None:
    index = new_conversation_index(START, GUID)
    for step in range(MAX_RESPONSES + 5):
        index = index.child(START + timedelta(minutes=step))
    assert len(index.responses) == MAX_RESPONSES
    assert index.guid == GUID
    assert len("Thread-Index: " + index.encode()) < 998


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"\x01" * 21).decode(),
                                   base64.b64encode(b"\x01" * 25).decode()])
def test_damaged_values_are_refused_clearly(value: str) -> None:
    with pytest.raises(MessageError, match="not an Outlook conversation index"):
        parse_thread_index(value)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_thread_index(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("subject", "topic"),
    [
        ("RE: Quote CRM:0001011", "Quote CRM:0001011"),
        ("AW:   Angebot", "Angebot"),
        ("Fwd: x", "x"),
        ("RE: FW: twice", "FW: twice"),
        ("Meeting at 10:30", "Meeting at 10:30"),
        ("Ticket 123: broken", "Ticket 123: broken"),
        ("12: numbers are not a prefix", "12: numbers are not a prefix"),
    ],
)
def test_topic_drops_one_prefix_like_exchange(subject: str, topic: str) -> None:
    assert conversation_topic(subject) == topic


def test_reply_keeps_the_parent_topic() -> None:
    assert reply_topic("RE: Quote", "Quote for Contoso") == "Quote for Contoso"
    assert reply_topic("RE: Quote", "  ") == "Quote"
