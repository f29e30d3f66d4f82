"""Fetching messages: one batched GetItem with MIME for the items a run works on.

Only what processing needs is asked for: the MIME content, the categories (acknowledging adds one
to those the user set), the item class and the received time (both known from the sync page, but
needed again when the ledger re-fetches items after a restart). exchangelib splits the ids into
requests of ``chunk_size``; the lane passes its batch size, so a batch is one request. The answers
are ``router.ews.light`` items (the four fields, not exchangelib ``Message`` objects).

Per-item failures come back as values: an item deleted or moved since it was listed is ``Missing``,
one Exchange cannot render (corrupt, or refused for a virus) is ``Unreadable``. A failure of the
whole request raises the router error, and the run is retried.

One item can make a whole batch fail (a response too large for a proxy or the server to produce, a
timeout on a huge message). ``fetch_resilient`` therefore retries a failed batch item by item: the
items that fetch alone are returned, the ones that fail again come back as ``Failing``, and only
when every item fails is the error raised (then the server, not an item, is the problem). A server
asking to back off (ErrorServerBusy) is obeyed at once: nothing is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from exchangelib.errors import EWSError
from exchangelib.properties import ItemId

from router.errors import ItemNotFoundError, MessageRejectedError, TransientTransportError, TransportError
from router.ews import ews_errors, translate
from router.ews.light import fetch_light
from router.ews.sync import plain_utc
from router.mailbox.session import MessageContent
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.session import MailboxSession

FETCH_FIELDS = ("mime_content", "categories", "item_class", "datetime_received")


@dataclass(frozen=True)
class FetchedItem:
    """A message as fetched: ids, raw MIME, its categories, class and received time.

    ``on_server`` is False for a message processed from its quarantined copy after the item left
    the mailbox: there is nothing on the server to acknowledge.
    """

    item_id: str
    changekey: str | None
    mime: bytes
    categories: tuple[str, ...]
    item_class: str
    received: datetime | None
    on_server: bool = True


@dataclass(frozen=True)
class Missing:
    """The item is no longer on the server (deleted or moved by someone else)."""

    item_id: str
    text: str


@dataclass(frozen=True)
class Unreadable:
    """Exchange could not give the item's content; the error says why."""

    item_id: str
    error: TransportError


@dataclass(frozen=True)
class Failing:
    """Fetching this item alone failed while others of its batch succeeded; the lane counts strikes."""

    item_id: str
    error: TransportError


Fetched = FetchedItem | Missing | Unreadable | Failing


def fetch_resilient(session: LaneSession, ids: Sequence[tuple[str, str | None]]) -> list[Fetched]:
    """``fetch_items``, falling back to one request per item when the batch fails transiently."""
    try:
        return list(fetch_items(session, ids))
    except TransientTransportError as exc:
        if len(ids) <= 1 or exc.back_off is not None:
            raise
    results: list[Fetched] = []
    for pair in ids:
        try:
            results.extend(fetch_items(session, [pair]))
        except TransientTransportError as exc:
            results.append(Failing(pair[0], exc))
    if all(isinstance(r, Failing) for r in results):
        failing = results[0]
        assert isinstance(failing, Failing)
        raise failing.error
    return results


def fetch_items(session: LaneSession,
                ids: Sequence[tuple[str, str | None]]) -> list[FetchedItem | Missing | Unreadable]:
    """Fetch ``(item_id, changekey)`` pairs in one batch, in order; per-item failures are values."""
    if not ids:
        return []
    if isinstance(session, ContractSession):
        contents = session.contract.fetch([item_id for item_id, _ in ids])
        return [_content(item_id, contents[item_id]) for item_id, _ in ids]
    wanted = [ItemId(id=item_id, changekey=changekey) for item_id, changekey in ids]
    with ews_errors(mailbox=session.mailbox):
        answers = list(fetch_light(session.account, wanted, FETCH_FIELDS, chunk_size=len(wanted)))
    return [_result(session, item_id, answer) for (item_id, _), answer in zip(ids, answers, strict=True)]


def _content(item_id: str, answer: MessageContent | TransportError) -> FetchedItem | Missing | Unreadable:
    """A contract ``fetch`` answer as the lane sees it (an error only this item has is raised, as above)."""
    if isinstance(answer, ItemNotFoundError):
        return Missing(item_id, answer.message)
    if isinstance(answer, MessageRejectedError):
        return Unreadable(item_id, answer)
    if isinstance(answer, TransportError):
        raise answer
    return FetchedItem(item_id=item_id, changekey=None, mime=answer.mime, categories=answer.categories,
                       item_class="", received=answer.received)


def _result(session: MailboxSession, item_id: str, answer: object) -> FetchedItem | Missing | Unreadable:
    if isinstance(answer, EWSError):
        error = translate(answer, mailbox=session.mailbox, item_id=item_id)
        if isinstance(error, ItemNotFoundError):
            return Missing(item_id, error.message)
        if isinstance(error, MessageRejectedError):
            return Unreadable(item_id, error)
        raise error
    if isinstance(answer, BaseException):
        raise TransientTransportError(f"fetching item {item_id} failed: {answer}", mailbox=session.mailbox,
                                      item_id=item_id) from answer
    received = getattr(answer, "datetime_received", None)
    return FetchedItem(
        item_id=str(getattr(answer, "id", item_id)), changekey=getattr(answer, "changekey", None),
        mime=bytes(getattr(answer, "mime_content", None) or b""),
        categories=tuple(str(c) for c in getattr(answer, "categories", None) or ()),
        item_class=str(getattr(answer, "item_class", None) or ""),
        received=plain_utc(received))
