"""Acknowledging on the server, after the CRM commit: a category, the read flag, a move, or deletion.

A run acknowledges its whole batch at once: one UpdateItem for every category and read-flag change
(the quarantine tag included; written from the changed fields alone by ``router.ews.light``, no
exchangelib ``Message`` per item), then one MoveItem or one DeleteItem, so the per-request cost of
EWS (about 1.5-2 ms of client CPU each) is paid per batch, not per message. Categories are merged: the
user's own are kept, the quarantine tag is removed from a message that now made it to the CRM.

Each request answers per item. An item that is gone (someone moved or deleted it) needs nothing
more and counts as done; another per-item failure is returned as a value so that only that message
is retried. A failure of a whole request raises, and the run is retried with back-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from exchangelib.errors import EWSError
from exchangelib.items import MOVE_TO_DELETED_ITEMS

from router.errors import ItemNotFoundError, TransportError
from router.ews import ews_errors, translate
from router.ews.light import LightChange, update_light
from router.mailbox.session import Acknowledge
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.session import MailboxSession


@dataclass(frozen=True)
class AckPlan:
    """What acknowledging does on the server: add ``category``, mark read, move, or delete.

    ``touch_unaccepted`` extends the plan to messages the CRM did not take (screened or refused):
    true for forward and shared logging mailboxes, which no person reads, false for people's and
    queues' mailboxes, whose unrelated mail must stay as it is.
    """

    category: str | None = None
    mark_read: bool = False
    move_to: str | None = None
    delete: bool = False
    touch_unaccepted: bool = False

    @property
    def updates(self) -> bool:
        """True when the plan changes properties of the item (category or read flag)."""
        return self.category is not None or self.mark_read

    def describe(self) -> str:
        """A phrase for the decision trail, e.g. ``category 'Tracked', moved to Inbox/CRM``."""
        if self.delete:
            return "deleted"
        parts = [f"category {self.category!r}"] if self.category else []
        parts += ["marked read"] if self.mark_read else []
        parts += [f"moved to {self.move_to}"] if self.move_to else []
        return ", ".join(parts) or "left as it is"


class AckKind(StrEnum):
    """Which treatment an item gets."""

    ACCEPTED = "accepted"
    """The CRM holds it: the full plan."""
    UNACCEPTED = "unaccepted"
    """Screened or refused in a service mailbox: the plan without the category."""
    QUARANTINED = "quarantined"
    """Set aside: only the quarantine tag."""


@dataclass
class AckRequest:
    """One item to acknowledge; ``result`` is filled in by ``acknowledge``."""

    item_id: str
    changekey: str | None
    categories: tuple[str, ...]
    kind: AckKind
    result: AckResult | None = None


@dataclass
class AckResult:
    """What happened: ``done`` (``new_item_id`` after a move; ``gone`` if the item had disappeared),
    else the ``error`` that leaves the message to be retried."""

    done: bool
    new_item_id: str | None = None
    gone: bool = False
    error: TransportError | None = None
    actions: list[str] = field(default_factory=list)


def acknowledge(session: LaneSession, plan: AckPlan, quarantine_category: str,
                requests: Sequence[AckRequest]) -> None:
    """Acknowledge every request in batched calls, setting each one's ``result``."""
    for request in requests:
        request.result = AckResult(done=True)
    if isinstance(session, ContractSession):
        _by_contract(session, plan, quarantine_category, requests)
        return
    _update(session, plan, quarantine_category, requests)
    movable = [r for r in requests if _open(r) and r.kind is not AckKind.QUARANTINED]
    if plan.delete:
        _delete(session, movable)
    elif plan.move_to:
        _move(session, plan.move_to, movable)


def _open(request: AckRequest) -> bool:
    """True while nothing went wrong with the request and its item is still there."""
    result = request.result
    return result is not None and result.error is None and not result.gone


def _wanted(plan: AckPlan, quarantine_category: str, request: AckRequest) -> tuple[list[str], bool]:
    """The categories and read flag the item should end up with (categories unchanged: same list)."""
    current = list(request.categories)
    if request.kind is AckKind.QUARANTINED:
        return _with(current, quarantine_category), False
    merged = [c for c in current if c != quarantine_category]
    if request.kind is AckKind.ACCEPTED and plan.category:
        merged = _with(merged, plan.category)
    return merged, plan.mark_read and not plan.delete


def _with(categories: list[str], category: str) -> list[str]:
    return categories if category in categories else [*categories, category]


def _update(session: MailboxSession, plan: AckPlan, quarantine_category: str,
            requests: Sequence[AckRequest]) -> None:
    """One UpdateItem writing only the fields that change (``update_light``: no ``Message`` per item)."""
    batch: list[tuple[AckRequest, LightChange, str]] = []
    for request in requests:
        categories, read = _wanted(plan, quarantine_category, request)
        values: dict[str, object] = {"categories": categories or None} \
            if categories != list(request.categories) else {}
        if read:
            values["is_read"] = True
        if values:
            change = LightChange(request.item_id, request.changekey, values)
            batch.append((request, change, _describe(request.categories, categories, read)))
    if not batch:
        return
    with ews_errors(mailbox=session.mailbox):
        answers = update_light(session.account, [change for _, change, _ in batch], chunk_size=len(batch))
    for (request, _, text), answer in zip(batch, answers, strict=True):
        if _settle(session, request, answer) and isinstance(answer, tuple):
            request.changekey = answer[1]
            assert request.result is not None
            request.result.actions.append(text)


def _describe(before: Sequence[str], after: Sequence[str], read: bool) -> str:
    """What an update does, e.g. ``category 'Tracked' added, marked read``."""
    parts = [f"category {c!r} added" for c in after if c not in before]
    parts += [f"category {c!r} removed" for c in before if c not in after]
    parts += ["marked read"] if read else []
    return ", ".join(parts)


def _move(session: MailboxSession, path: str, requests: Sequence[AckRequest]) -> None:
    if not requests:
        return
    folder = session.folder(path)
    with ews_errors(mailbox=session.mailbox):
        answers = session.account.bulk_move(ids=[(r.item_id, r.changekey) for r in requests],
                                            to_folder=folder, chunk_size=len(requests))
    for request, answer in zip(requests, answers, strict=True):
        if _settle(session, request, answer) and request.result is not None:
            request.result.actions.append(f"moved to {path}")
            if isinstance(answer, tuple) and answer[0]:
                request.result.new_item_id = str(answer[0])


def _delete(session: MailboxSession, requests: Sequence[AckRequest]) -> None:
    if not requests:
        return
    with ews_errors(mailbox=session.mailbox):
        answers = session.account.bulk_delete(ids=[(r.item_id, r.changekey) for r in requests],
                                              delete_type=MOVE_TO_DELETED_ITEMS, chunk_size=len(requests))
    for request, answer in zip(requests, answers, strict=True):
        if _settle(session, request, answer) and request.result is not None:
            request.result.actions.append("deleted")


def _settle(session: MailboxSession, request: AckRequest, answer: object) -> bool:
    """Record a per-item failure; True when the item's step succeeded."""
    if not isinstance(answer, BaseException):
        return True
    assert request.result is not None
    error = translate(answer, mailbox=session.mailbox, item_id=request.item_id) \
        if isinstance(answer, EWSError) else None
    if isinstance(error, ItemNotFoundError):
        request.result.gone = True
        request.result.actions.append("the item was no longer on the server")
        return False
    request.result.done = False
    request.result.error = error or TransportError(f"{type(answer).__name__}: {answer}",
                                                   mailbox=session.mailbox, item_id=request.item_id)
    return False


def _by_contract(session: ContractSession, plan: AckPlan, quarantine_category: str,
                 requests: Sequence[AckRequest]) -> None:
    """The same acknowledgement through the mailbox-session contract: one call per distinct change
    (items wanting the same categories and read flag go together), then one move or delete."""
    groups: dict[tuple[tuple[str, ...] | None, bool], list[AckRequest]] = {}
    for request in requests:
        categories, read = _wanted(plan, quarantine_category, request)
        changed = tuple(categories) if categories != list(request.categories) else None
        if changed is not None or read:
            groups.setdefault((changed, read), []).append(request)
    for (wanted, read), group in groups.items():
        _contract_step(session, group, Acknowledge(categories=wanted, mark_read=read), None)
        for request in group:
            if _open(request) and request.result is not None:
                after = request.categories if wanted is None else wanted
                request.result.actions.append(_describe(request.categories, after, read))
    movable = [r for r in requests if _open(r) and r.kind is not AckKind.QUARANTINED]
    if movable and plan.delete:
        _contract_step(session, movable, Acknowledge(delete=True), "deleted")
    elif movable and plan.move_to:
        _contract_step(session, movable, Acknowledge(move_to=plan.move_to), f"moved to {plan.move_to}")


def _contract_step(session: ContractSession, requests: Sequence[AckRequest], action: Acknowledge,
                   done_text: str | None) -> None:
    """Run one contract ``acknowledge`` and settle each request (a moved item's new id is kept)."""
    answers = session.contract.acknowledge([r.item_id for r in requests], action)
    for request in requests:
        answer = answers.get(request.item_id)
        result = request.result
        assert result is not None
        if isinstance(answer, ItemNotFoundError):
            result.gone = True
            result.actions.append("the item was no longer on the server")
        elif isinstance(answer, TransportError):
            result.done = False
            result.error = answer
        elif done_text is not None:
            result.actions.append(done_text)
            if action.move_to and answer and answer != request.item_id:
                result.new_item_id = answer
