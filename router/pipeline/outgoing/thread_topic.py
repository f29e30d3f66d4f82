"""Outlook's Thread-Topic: the conversation topic, i.e. the subject without its reply or forward prefix.

A reply keeps its parent's Thread-Topic unchanged (that is what makes Outlook group the conversation);
a message that starts a conversation gets its own normalised subject, computed the way Exchange
computes PidTagNormalizedSubject from a Subject header ([MS-OXCMAIL] 2.2.3.2.6.1 "Normalizing the
Subject"): if the subject begins with one to three characters other than colon, blank or digit,
followed by a colon and any number of blanks, those characters, the colon and the blanks are the
prefix ("RE: ", "FW: ", "AW: ", "SV: "); the rest is the normalised subject. Only one prefix is removed,
as Exchange does, so that the topic we write is the topic Exchange would derive itself.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"[^:\s0-9]{1,3}: *")


def conversation_topic(subject: str) -> str:
    """Return the Thread-Topic of a message that starts a conversation with ``subject``."""
    match = _PREFIX.match(subject)
    return subject[match.end() :] if match else subject


def reply_topic(subject: str, parent_topic: str | None) -> str:
    """Return the Thread-Topic of a reply: the parent's topic if it had one, else our own subject's."""
    if parent_topic and parent_topic.strip():
        return parent_topic.strip()
    return conversation_topic(subject)
