"""The threading headers of an outgoing email: In-Reply-To, References, Thread-Index, Thread-Topic.

When the email answers a tracked one, the standard headers (RFC 5322 section 3.6.4) make replies
thread in every client and let the CRM correlate the answer, and Outlook's Thread-Index / Thread-Topic
make Outlook put it in the same conversation. A new email gets a new conversation index.

A damaged parent header never blocks a send: an unusable Message-ID is left out and a Thread-Index that
does not decode starts a new conversation; each such repair is reported in ``warnings``.
The result depends only on the inputs (``seed`` replaces randomness), so rendering is repeatable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from router.errors import MessageError
from router.pipeline.outgoing.message import ParentEmail
from router.pipeline.outgoing.message_id import normalize_message_id, split_message_ids
from router.pipeline.outgoing.thread_index import new_conversation_index, parse_thread_index
from router.pipeline.outgoing.thread_topic import conversation_topic, reply_topic

MAX_REFERENCES = 20
"""References kept: the conversation's first message and the 19 most recent, as mail clients trim."""


@dataclass(frozen=True)
class ThreadHeaders:
    """The threading header values for one outgoing email."""

    in_reply_to: str | None
    references: tuple[str, ...]
    thread_index: str
    thread_topic: str
    warnings: tuple[str, ...] = ()


def thread_headers(subject: str, parent: ParentEmail | None, *, now: datetime, seed: bytes) -> ThreadHeaders:
    """Return the threading headers of an email with ``subject`` answering ``parent`` (or none).

    ``now`` dates the Thread-Index; ``seed`` (at least 17 bytes, e.g. a hash of our Message-ID)
    supplies the new conversation GUID and the child block's random bits.
    """
    if parent is None:
        return ThreadHeaders(None, (), _new_index(now, seed), conversation_topic(subject))
    warnings: list[str] = []
    in_reply_to = normalize_message_id(parent.message_id)
    if in_reply_to is None:
        warnings.append(f"the parent's Message-ID {parent.message_id[:80]!r} is unusable; no In-Reply-To")
    references = _references(parent, in_reply_to, warnings)
    index = _child_index(parent.thread_index, now, seed, warnings)
    return ThreadHeaders(in_reply_to, references, index, reply_topic(subject, parent.thread_topic),
                         tuple(warnings))


def _references(parent: ParentEmail, in_reply_to: str | None, warnings: list[str]) -> tuple[str, ...]:
    """Return the parent's References plus the parent itself, deduplicated and trimmed."""
    ids: list[str] = []
    for raw in parent.references:
        found = split_message_ids(raw)
        if not found and raw.strip():
            warnings.append(f"dropped the unusable reference {raw[:80]!r}")
        ids.extend(mid for mid in found if mid not in ids)
    if in_reply_to and in_reply_to not in ids:
        ids.append(in_reply_to)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[len(ids) - MAX_REFERENCES + 1 :]]
    return tuple(ids)


def _new_index(now: datetime, seed: bytes) -> str:
    return new_conversation_index(now, uuid.UUID(bytes=seed[:16], version=4)).encode()


def _child_index(parent_index: str | None, now: datetime, seed: bytes, warnings: list[str]) -> str:
    """Return a child of the parent's index, or a new index when the parent had none or a bad one."""
    if not parent_index or not parent_index.strip():
        return _new_index(now, seed)
    try:
        return parse_thread_index(parent_index).child(now, entropy=seed[16]).encode()
    except MessageError as exc:
        warnings.append(f"{exc.message}; started a new conversation index")
        return _new_index(now, seed)
