"""Notifications: Subscribe (pull, streaming), GetEvents, GetStreamingEvents and Unsubscribe.

GetStreamingEvents is the one long-lived operation: ``stream_events`` yields one response body per
batch of events (and a heartbeat when there are none) until the connection timeout, then a final
body with ConnectionStatus Closed. It waits on the event hub's condition, not on the store lock. One
connection may carry up to ``max_subscriptions_per_stream`` SubscriptionIds (Exchange: 200), each made
by the same authenticated account (a service account may impersonate a different mailbox for each), and
one account may hold at most ``max_streaming_connections`` open at once: the next fails with
ErrorExceededConnectionCount, as Exchange's throttling policy answers (so a client must share connections
among its subscriptions). A subscription that is unknown, or is removed while its connection is open,
fails the request with its id in ``m:ErrorSubscriptionIds``, so the client can go on with the others.
An event written to a streaming connection is delivered: the next connection of its subscription starts
after it (events that arrive between connections wait for the next one), as Exchange does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Protocol

from router.simulator import ids
from router.simulator.events import EVENT_TYPE_NAMES, Event, EventType, Subscription, new_subscription_key
from router.simulator.model import FolderLevel
from router.simulator.operations.base import (
    Ctx,
    ItemError,
    failed,
    operation,
    require,
    resolve_folder,
    response_root,
    success,
)
from router.simulator.xml import Element, child, children, fbool, fdate, msub, text_of, tsub

EXCEEDED = ("You have exceeded the maximum number of concurrent streaming connections ({limit}) for "
            "this account.")
_OPEN: dict[tuple[int, str], int] = {}
"""Open streaming connections per (store, account)."""
_OPEN_LOCK = threading.Lock()
NOT_FOUND = "The specified subscription was not found."
INVALID = "The subscription is invalid."
MAX_EVENTS = 50


def _watermark(ctx: Ctx, sub: Subscription, seq: int) -> str:
    return ctx.store.signer.sign("wm", {"i": sub.sid, "q": seq})


def _subscription(ctx: Ctx, sid: str | None, *, by_principal: bool = False) -> Subscription:
    """The subscription ``sid`` names, if the caller's user made it (``by_principal``: or the caller's
    authenticated account, impersonating any mailbox, as a streaming group needs)."""
    try:
        payload = ctx.store.signer.verify("sub", sid or "")
    except ids.InvalidTokenError as exc:
        raise ItemError("ErrorInvalidSubscription", INVALID) from exc
    sub = ctx.store.events.get(str(payload.get("i")))
    if sub is None:
        raise ItemError("ErrorSubscriptionNotFound", NOT_FOUND)
    if sub.owner != ctx.user.key and not (by_principal and sub.principal == ctx.principal.name.lower()):
        raise ItemError("ErrorSubscriptionAccessDenied", "The subscription belongs to another account.")
    return sub


@operation("Subscribe")
def subscribe(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("Subscribe")
    spec = child(req, "PullSubscriptionRequest")
    if spec is None:
        spec = child(req, "StreamingSubscriptionRequest")
    try:
        if spec is None:
            raise ItemError(
                "ErrorInvalidSubscriptionRequest", "Only pull and streaming subscriptions are supported."
            )
        sub = _new_subscription(ctx, spec)
    except ItemError as err:
        failed(msgs, "Subscribe", err)
        return root
    ctx.store.events.add(sub)
    msg = success(msgs, "Subscribe")
    msub(msg, "SubscriptionId", ctx.store.signer.sign("sub", {"i": sub.sid}))
    if not sub.streaming:
        msub(msg, "Watermark", _watermark(ctx, sub, 0))
    return root


def _new_subscription(ctx: Ctx, spec: Element) -> Subscription:
    folders = [resolve_folder(ctx, f) for f in children(child(spec, "FolderIds"))]
    for folder in folders:
        require(ctx, folder, FolderLevel.REVIEWER)
    types = {
        EVENT_TYPE_NAMES[t.text.strip()]
        for t in children(child(spec, "EventTypes"))
        if t.text and t.text.strip() in EVENT_TYPE_NAMES
    }
    if not types:
        raise ItemError("ErrorInvalidSubscriptionRequest", "At least one event type is required.")
    mailbox = folders[0].mailbox if folders else ctx.user.key
    now = ctx.store.clock.now()
    return Subscription(
        new_subscription_key(),
        mailbox,
        ctx.user.key,
        None if not folders else {f.uid for f in folders},
        types,
        spec.tag.endswith("StreamingSubscriptionRequest"),
        int(text_of(spec, "Timeout", "30") or "30"),
        now,
        now,
        principal=ctx.principal.name.lower(),
    )


def _render_event(ctx: Ctx, parent: Element, sub: Subscription, seq: int, event: Event) -> None:
    el = tsub(parent, event.type.value)
    tsub(el, "Watermark", _watermark(ctx, sub, seq))
    tsub(el, "TimeStamp", fdate(event.timestamp))
    item = ctx.store.item(event.item_uid) if event.item_uid else None
    enc = ids.encode
    if event.item_uid is not None:
        tsub(
            el,
            "ItemId",
            Id=enc(ids.ObjectId(ids.IdKind.ITEM, event.item_uid)),
            ChangeKey=item.change_key if item else ids.change_key(event.item_uid, 1),
        )
    else:
        tsub(el, "FolderId", Id=enc(ids.ObjectId(ids.IdKind.FOLDER, event.folder_uid)))
    tsub(el, "ParentFolderId", Id=enc(ids.ObjectId(ids.IdKind.FOLDER, event.folder_uid)))
    if event.type in (EventType.MOVED, EventType.COPIED) and event.old_item_uid and event.old_folder_uid:
        tsub(el, "OldItemId", Id=enc(ids.ObjectId(ids.IdKind.ITEM, event.old_item_uid)))
        tsub(el, "OldParentFolderId", Id=enc(ids.ObjectId(ids.IdKind.FOLDER, event.old_folder_uid)))


def _notification(ctx: Ctx, parent: Element, name: str, sub: Subscription, after: int) -> int:
    """Append a Notification with the events after ``after``; return the last sequence number sent."""
    # GetEvents wraps it as m:Notification, GetStreamingEvents as m:Notifications/t:Notification.
    note = tsub(parent, "Notification") if name == "t:Notification" else msub(parent, name)
    tsub(note, "SubscriptionId", ctx.store.signer.sign("sub", {"i": sub.sid}))
    tsub(note, "PreviousWatermark", _watermark(ctx, sub, after))
    with ctx.store.events.condition:
        pending = [(s, e) for s, e in sub.events if s > after]
        while sub.events and sub.events[0][0] <= after:
            sub.events.popleft()
    batch = pending[:MAX_EVENTS]
    tsub(note, "MoreEvents", fbool(len(pending) > MAX_EVENTS))
    last = after
    for seq, event in batch:
        _render_event(ctx, note, sub, seq, event)
        last = seq
    if not batch:
        status = tsub(note, "StatusEvent")
        tsub(status, "Watermark", _watermark(ctx, sub, after))
    return last


@operation("GetEvents")
def get_events(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("GetEvents")
    try:
        sub = _subscription(ctx, text_of(req, "SubscriptionId"))
        try:
            mark = ctx.store.signer.verify("wm", text_of(req, "Watermark") or "")
        except ids.InvalidTokenError as exc:
            raise ItemError("ErrorInvalidWatermark", "The watermark is invalid.") from exc
        if mark.get("i") != sub.sid:
            raise ItemError("ErrorInvalidWatermark", "The watermark belongs to another subscription.")
    except ItemError as err:
        failed(msgs, "GetEvents", err)
        return root
    msg = success(msgs, "GetEvents")
    _notification(ctx, msg, "Notification", sub, int(mark.get("q", 0)))  # type: ignore[call-overload]
    return root


@operation("Unsubscribe")
def unsubscribe(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("Unsubscribe")
    try:
        sub = _subscription(ctx, text_of(req, "SubscriptionId"))
    except ItemError as err:
        failed(msgs, "Unsubscribe", err)
        return root
    ctx.store.events.remove(sub.sid)
    success(msgs, "Unsubscribe")
    return root


def _take_connection(ctx: Ctx) -> tuple[int, str]:
    """Count one more streaming connection of the caller; ItemError when it holds the most it may."""
    key, limit = (id(ctx.store), ctx.principal.name.lower()), ctx.config.max_streaming_connections
    with _OPEN_LOCK:
        if limit is not None and _OPEN.get(key, 0) >= limit:
            raise ItemError("ErrorExceededConnectionCount", EXCEEDED.format(limit=limit))
        _OPEN[key] = _OPEN.get(key, 0) + 1
    return key


def _give_back(key: tuple[int, str]) -> None:
    with _OPEN_LOCK:
        _OPEN[key] -= 1
        if not _OPEN[key]:
            del _OPEN[key]


def open_streams(ctx: Ctx) -> int:
    """The caller's open streaming connections."""
    with _OPEN_LOCK:
        return _OPEN.get((id(ctx.store), ctx.principal.name.lower()), 0)


class Stopping(Protocol):
    """When a stream ends early: the server stops, or the client closed its connection."""

    def is_set(self) -> bool: ...


def stream_events(ctx: Ctx, req: Element, stopping: Stopping) -> Iterator[Element]:
    """Yield GetStreamingEvents response bodies until the connection timeout, ending with Closed."""
    try:
        key = _take_connection(ctx)
    except ItemError as err:
        root, msgs = response_root("GetStreamingEvents")
        failed(msgs, "GetStreamingEvents", err)
        yield root
        return
    try:
        yield from _stream(ctx, req, stopping)
    finally:
        _give_back(key)


def _stream(ctx: Ctx, req: Element, stopping: Stopping) -> Iterator[Element]:
    minutes = int(text_of(req, "ConnectionTimeout", "1") or "1")
    try:
        subs = _stream_subscriptions(ctx, req, minutes)
    except _SubscriptionsFailed as err:
        yield _failure_body(err.error, err.sids)
        return
    deadline = time.monotonic() + minutes * ctx.config.streaming_minute
    # Exchange takes an event written to a streaming connection as delivered: the next connection
    # starts after the last one written (a client cannot send a watermark with GetStreamingEvents).
    seen = {s.sid: s.acked for s, _ in subs}
    last_sent = time.monotonic()
    while not stopping.is_set() and time.monotonic() < deadline:
        gone = [text for s, text in subs if ctx.store.events.get(s.sid) is None]
        if gone:
            yield _failure_body(ItemError("ErrorSubscriptionNotFound", NOT_FOUND), gone)
            return
        ready = [s for s, _ in subs if any(q > seen[s.sid] for q, _ in list(s.events))]
        if ready or time.monotonic() - last_sent >= ctx.config.heartbeat_seconds:
            yield _stream_body(ctx, ready, seen, "OK")
            last_sent = time.monotonic()
            continue
        with ctx.store.events.condition:
            ctx.store.events.condition.wait(min(0.5, max(deadline - time.monotonic(), 0.0)))
    yield _stream_body(ctx, [], seen, "Closed")


class _SubscriptionsFailed(Exception):
    """GetStreamingEvents cannot start: ``error``, about the subscriptions ``sids`` (if any)."""

    def __init__(self, error: ItemError, sids: list[str]) -> None:
        super().__init__(error.message)
        self.error = error
        self.sids = sids


def _stream_subscriptions(ctx: Ctx, req: Element, minutes: int) -> list[tuple[Subscription, str]]:
    """The request's subscriptions (with the id the client sent); _SubscriptionsFailed names the bad ones."""
    if not 1 <= minutes <= 30:
        raise _SubscriptionsFailed(
            ItemError("ErrorInvalidArgument", "ConnectionTimeout must be between 1 and 30 minutes."), [])
    texts = [s.text or "" for s in children(child(req, "SubscriptionIds"))]
    if len(texts) > ctx.config.max_subscriptions_per_stream:
        raise _SubscriptionsFailed(ItemError(
            "ErrorInvalidArgument", f"A GetStreamingEvents request may carry at most "
            f"{ctx.config.max_subscriptions_per_stream} subscriptions."), [])
    subs: list[tuple[Subscription, str]] = []
    failures: list[tuple[str, ItemError]] = []
    for text in texts:
        try:
            subs.append((_subscription(ctx, text, by_principal=True), text))
        except ItemError as err:
            failures.append((text, err))
    if failures:
        raise _SubscriptionsFailed(failures[0][1], [text for text, _ in failures])
    return subs


def _failure_body(err: ItemError, sids: list[str]) -> Element:
    """A failed GetStreamingEvents message; ``sids`` are listed in m:ErrorSubscriptionIds."""
    root, msgs = response_root("GetStreamingEvents")
    msg = failed(msgs, "GetStreamingEvents", err)
    if sids:
        listed = msub(msg, "ErrorSubscriptionIds")
        for sid in sids:
            tsub(listed, "SubscriptionId", sid)
    return root


def _stream_body(ctx: Ctx, ready: list[Subscription], seen: dict[str, int], status: str) -> Element:
    root, msgs = response_root("GetStreamingEvents")
    msg = success(msgs, "GetStreamingEvents")
    if ready:
        notes = msub(msg, "Notifications")
        for sub in ready:
            seen[sub.sid] = _notification(ctx, notes, "t:Notification", sub, max(seen[sub.sid], sub.acked))
            _delivered(ctx, sub, seen[sub.sid])
    msub(msg, "ConnectionStatus", status)
    return root


def _delivered(ctx: Ctx, sub: Subscription, last: int) -> None:
    """Forget ``sub``'s events up to ``last``, written to a streaming connection: they are not sent
    again on the next one (before, the last batch of each connection was sent again on the next)."""
    with ctx.store.events.condition:
        sub.acked = max(sub.acked, last)
        while sub.events and sub.events[0][0] <= sub.acked:
            sub.events.popleft()
