"""Store events and the subscriptions that collect them (pull and streaming notifications).

The store publishes one Event per mutation. A Subscription keeps the events that match its folders and
event types, numbered so a watermark says exactly which ones the client has seen. Streaming readers
wait on the hub's condition instead of polling.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class EventType(Enum):
    """Notification event types, in the order NotificationType lists them."""

    COPIED = "CopiedEvent"
    CREATED = "CreatedEvent"
    DELETED = "DeletedEvent"
    MODIFIED = "ModifiedEvent"
    MOVED = "MovedEvent"
    NEW_MAIL = "NewMailEvent"
    FREE_BUSY = "FreeBusyChangedEvent"


EVENT_TYPE_NAMES = {
    "CopiedEvent": EventType.COPIED,
    "CreatedEvent": EventType.CREATED,
    "DeletedEvent": EventType.DELETED,
    "ModifiedEvent": EventType.MODIFIED,
    "MovedEvent": EventType.MOVED,
    "NewMailEvent": EventType.NEW_MAIL,
    "FreeBusyChangedEvent": EventType.FREE_BUSY,
}
"""Subscribe's t:EventType values are the event element names without the ``Event`` suffix in newer
schemas and with it in the enum; both spellings are mapped here."""
EVENT_TYPE_NAMES.update({k.removesuffix("Event"): v for k, v in list(EVENT_TYPE_NAMES.items())})


@dataclass(frozen=True)
class Event:
    """One store mutation as notifications report it."""

    type: EventType
    mailbox: str
    timestamp: datetime
    folder_uid: bytes
    item_uid: bytes | None = None
    old_item_uid: bytes | None = None
    old_folder_uid: bytes | None = None


@dataclass
class Subscription:
    """A pull or streaming subscription and the events it has collected."""

    sid: str
    mailbox: str
    owner: str
    folders: set[bytes] | None
    types: set[EventType]
    streaming: bool
    timeout_minutes: int
    created: datetime
    last_seen: datetime
    events: deque[tuple[int, Event]] = field(default_factory=deque)
    next_seq: int = 1
    acked: int = 0
    """The last event written to a streaming connection (Exchange does not send it again)."""
    principal: str = ""
    """The authenticated account that made it: a streaming connection of that account may carry it,
    whichever mailbox it impersonated (how a service account groups its mailboxes' subscriptions)."""

    def accepts(self, event: Event) -> bool:
        if event.mailbox != self.mailbox or event.type not in self.types:
            return False
        return (
            self.folders is None
            or event.folder_uid in self.folders
            or (event.old_folder_uid is not None and event.old_folder_uid in self.folders)
        )


class EventHub:
    """Routes store events to subscriptions; streaming readers block on ``condition``."""

    def __init__(self) -> None:
        self.condition = threading.Condition(threading.Lock())
        self.subscriptions: dict[str, Subscription] = {}

    def publish(self, event: Event) -> None:
        with self.condition:
            for sub in self.subscriptions.values():
                if sub.accepts(event):
                    sub.events.append((sub.next_seq, event))
                    sub.next_seq += 1
            self.condition.notify_all()

    def add(self, sub: Subscription) -> None:
        with self.condition:
            self.subscriptions[sub.sid] = sub

    def remove(self, sid: str) -> Subscription | None:
        with self.condition:
            sub = self.subscriptions.pop(sid, None)
            self.condition.notify_all()
            return sub

    def get(self, sid: str) -> Subscription | None:
        with self.condition:
            return self.subscriptions.get(sid)

    def wake_all(self) -> None:
        """Wake streaming readers (used at shutdown)."""
        with self.condition:
            self.condition.notify_all()


def new_subscription_key() -> str:
    return uuid.uuid4().hex
