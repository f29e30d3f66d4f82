"""Outlook's Thread-Index header: the conversation index that makes replies thread together.

The MIME ``Thread-Index`` header carries PidTagConversationIndex in base64. The format is described
in [MS-OXOMSG] section 2.2.1.3 "PidTagConversationIndex Property" and in the Outlook MAPI reference
page "Tracking Conversations" (ScCreateConversationIndex); MFCMAPI's SmartView parser and
java-libpst's PSTConversationIndex read it the same way as this module does:

Header block, 22 bytes, for the first message of a conversation::

    byte  0      0x01 (called "reserved"; it is also the top byte of every FILETIME from 1829 to 2057)
    bytes 1..5   the next 40 bits of the FILETIME of creation (100-ns ticks since 1601-01-01 UTC),
                 big-endian; the low 16 bits of the FILETIME are dropped (6.5536 ms resolution)
    bytes 6..21  a GUID made for the conversation; Data1, Data2 and Data3 big-endian, which is the
                 RFC 4122 byte order of ``uuid.UUID.bytes``

Response level (child block), 5 bytes, appended by each reply or forward::

    bit 39       DeltaCode: 0 when the time since the header is below 2**49 ticks (about 1.78 years)
    bits 38..8   TimeDelta: that time difference, bits 18..48 (DeltaCode 0) or 23..53 (DeltaCode 1)
    bits 7..4    a random number
    bits 3..0    a sequence count (taken from a random number as well)

[MS-OXOMSG] words the header as "reserved byte + 40 bits of FILETIME (its top 40 bits)"; real Outlook
values, MFCMAPI and java-libpst all read bytes 0..5 as the top 48 bits of the FILETIME, whose top byte
is 0x01 for any date this router will meet. Both readings produce the same bytes; we follow the one
that matches real messages. The time difference in a child block is measured from the header's time
(as [MS-ASCON] 2.2.2.4 says: "the difference between the current time and the time specified by the
first timestamp"), not from the previous child.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from router.errors import MessageError

HEADER_LENGTH = 22
RESPONSE_LENGTH = 5
MAX_RESPONSES = 100
"""Deepest index the router writes; the Thread-Index header then stays well under 998 characters."""

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_TICKS_PER_MICROSECOND = 10
_SHORT_DELTA_LIMIT = 1 << 49
_DELTA_MASK = (1 << 31) - 1


@dataclass(frozen=True)
class ResponseLevel:
    """One child block: a reply or forward made some time after the conversation began."""

    stored_delta: int
    """The 31-bit TimeDelta as stored: the delta in ticks shifted right by 18 (or 23 if ``long_delta``)."""
    long_delta: bool
    """DeltaCode: the delta is stored with the coarse resolution because it exceeds ~1.78 years."""
    random: int
    """The 4-bit random number."""
    sequence: int
    """The 4-bit sequence count."""

    @property
    def delta(self) -> timedelta:
        """Time since the header's instant, at the block's resolution (26.2 ms, or 0.84 s if long)."""
        return _duration(self.stored_delta << (23 if self.long_delta else 18))

    def to_bytes(self) -> bytes:
        """Return the 5-byte child block."""
        word = (int(self.long_delta) << 31 | self.stored_delta & _DELTA_MASK) << 8
        word |= (self.random & 0x0F) << 4 | self.sequence & 0x0F
        return word.to_bytes(RESPONSE_LENGTH, "big")


@dataclass(frozen=True)
class ConversationIndex:
    """A decoded conversation index: when and under which GUID the conversation began, and its replies."""

    header_time: int
    """The header's 48 stored bits: the FILETIME of creation shifted right by 16."""
    guid: uuid.UUID
    """The conversation's GUID: every message of one conversation shares it."""
    responses: tuple[ResponseLevel, ...] = ()

    @property
    def created(self) -> datetime:
        """The instant the conversation began (UTC), truncated to 6.5536 ms."""
        return _FILETIME_EPOCH + _duration(self.header_time << 16)

    @property
    def sent_times(self) -> tuple[datetime, ...]:
        """The instants of the original and of each reply, as far as the index records them."""
        return (self.created, *(self.created + level.delta for level in self.responses))

    def to_bytes(self) -> bytes:
        """Return the binary PidTagConversationIndex value."""
        header = self.header_time.to_bytes(6, "big") + self.guid.bytes
        return header + b"".join(level.to_bytes() for level in self.responses)

    def encode(self) -> str:
        """Return the value of the ``Thread-Index`` header (base64, no line breaks)."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    def child(self, now: datetime, *, entropy: int | None = None) -> ConversationIndex:
        """Return the index of a reply to this message made at ``now``.

        ``entropy`` (0..255) supplies the random nibble and the sequence nibble; by default they are
        random. Past ``MAX_RESPONSES`` levels the oldest replies are dropped so the header stays short;
        the GUID, which is what Outlook groups on, is kept.
        """
        bits = secrets.randbits(8) if entropy is None else entropy & 0xFF
        ticks = max(0, _ticks(now) - (self.header_time << 16))  # A clock behind the parent's counts as 0.
        long_delta = ticks >= _SHORT_DELTA_LIMIT
        stored = min(ticks >> (23 if long_delta else 18), _DELTA_MASK)
        level = ResponseLevel(stored, long_delta, bits >> 4, bits & 0x0F)
        kept = self.responses[max(0, len(self.responses) - MAX_RESPONSES + 1) :]
        return ConversationIndex(self.header_time, self.guid, (*kept, level))


def new_conversation_index(now: datetime, guid: uuid.UUID | None = None) -> ConversationIndex:
    """Return the index of a message that starts a new conversation at ``now`` (years 1829 to 2057)."""
    header_time = _ticks(now) >> 16
    if header_time >> 40 != 0x01:
        raise ValueError(f"{now.isoformat()} is outside the years a conversation index can hold")
    return ConversationIndex(header_time, guid or uuid.uuid4())


def new_thread_index(now: datetime, guid: uuid.UUID | None = None) -> str:
    """Return a ``Thread-Index`` header value for a new conversation started at ``now``."""
    return new_conversation_index(now, guid).encode()


def child_thread_index(parent: str, now: datetime, *, entropy: int | None = None) -> str:
    """Return the ``Thread-Index`` of a reply made at ``now`` to a message whose index is ``parent``.

    Raises ``MessageError`` when ``parent`` is not a conversation index.
    """
    return parse_thread_index(parent).child(now, entropy=entropy).encode()


def parse_thread_index(value: str | bytes) -> ConversationIndex:
    """Decode a ``Thread-Index`` header value (base64) or a raw PidTagConversationIndex (bytes)."""
    raw = value if isinstance(value, bytes) else _b64decode(value)
    if len(raw) < HEADER_LENGTH or (len(raw) - HEADER_LENGTH) % RESPONSE_LENGTH:
        raise _not_an_index(value, f"{len(raw)} bytes is not 22 plus a multiple of 5")
    levels = tuple(
        _parse_response(raw[start : start + RESPONSE_LENGTH])
        for start in range(HEADER_LENGTH, len(raw), RESPONSE_LENGTH)
    )
    return ConversationIndex(int.from_bytes(raw[:6], "big"), uuid.UUID(bytes=raw[6:HEADER_LENGTH]), levels)


def _parse_response(block: bytes) -> ResponseLevel:
    word = int.from_bytes(block, "big")
    return ResponseLevel((word >> 8) & _DELTA_MASK, bool(word >> 39), (word >> 4) & 0x0F, word & 0x0F)


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _not_an_index(value, "it is not base64") from exc


def _not_an_index(value: str | bytes, why: str) -> MessageError:
    shown = value if isinstance(value, str) else value.hex()
    return MessageError(
        f"Thread-Index {shown[:80]!r} is not an Outlook conversation index: {why}",
        hint="the parent email's Thread-Index is damaged; the reply can start a new conversation index",
    )


def _ticks(instant: datetime) -> int:
    """Return ``instant`` as FILETIME ticks (100 ns since 1601-01-01 UTC)."""
    if instant.tzinfo is None:
        raise ValueError("conversation index times must be timezone-aware")
    delta = instant - _FILETIME_EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * _TICKS_PER_MICROSECOND


def _duration(ticks: int) -> timedelta:
    """Return ``ticks`` (100 ns each) as a timedelta, truncated to whole microseconds."""
    return timedelta(microseconds=ticks // _TICKS_PER_MICROSECOND)
