"""Submission and transport: the Send As / Send On Behalf decision, stamping, delivery and the journal.

``submit`` is what CreateItem (SendOnly / SendAndSaveCopy), SendItem and UpdateItem (SendAndSaveCopy)
call. The server, not the client, decides who the message is from:

* the caller C is the principal P (From), or holds Send As on P: From = Sender = P;
* C holds Send On Behalf on P (GrantSendOnBehalfTo or AddDelegate): From = P, Sender = C;
* otherwise ErrorSendAsDenied, and the message stays in the Drafts folder it was submitted from
  (P's Drafts when the submission happened in P's mailbox, as Exchange documents).

The sent copy is saved where the submission says (the caller's Sent Items for Graph's ``sendMail``);
when C is not P and P's mailbox has MessageCopyForSentAsEnabled (Send As) or
MessageCopyForSendOnBehalfEnabled (on behalf), a second copy goes to P's Sent Items, as Exchange Online
does.

Internal recipients get a copy in their Inbox (then their Inbox rules run); external recipients get
one journal entry holding the exact bytes they would receive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.utils import format_datetime

from router.simulator import delivery_headers, mime
from router.simulator.model import Address, Folder, Item, User
from router.simulator.permissions import SendRight, send_right
from router.simulator.rules import LOOP_HEADER, Rule, already_forwarded_by, applies
from router.simulator.store import Store

SEND_AS_DENIED = (
    "The user account which was used to submit this request does not have the right to send "
    "mail on behalf of the specified sending account."
)


@dataclass(frozen=True)
class Outcome:
    """What a submission did: an error code (None on success) and the copies it left behind."""

    code: str | None = None
    message: str = ""
    right: SendRight | None = None
    saved: Item | None = None
    draft: Item | None = None


def decide(store: Store, caller: User, item: Item) -> tuple[User | None, SendRight]:
    """Return the principal (From, else the owner of the item's mailbox) and the caller's right on it."""
    principal = store.user(item.from_.email) if item.from_ else store.users[item.mailbox]
    if principal is None:
        return None, SendRight.DENIED
    return principal, send_right(caller, principal)


def submit(store: Store, caller: User, item: Item, *, save_to: Folder | None, max_bytes: int) -> Outcome:
    """Submit ``item`` (already stored, normally in a Drafts folder) as ``caller``."""
    with store.lock:
        if item.size > max_bytes:
            return Outcome("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
        recipients = _unique(item.to + item.cc + item.bcc)
        if not recipients:
            return Outcome(
                "ErrorInvalidRecipients", "At least one recipient is required, but none were found."
            )
        principal, right = decide(store, caller, item)
        if principal is None or right is SendRight.DENIED:
            return Outcome(
                "ErrorSendAsDenied",
                SEND_AS_DENIED,
                SendRight.DENIED,
                draft=_leave_in_drafts(store, item, principal),
            )
        from_ = principal.as_address()
        sender = from_ if right is SendRight.SEND_AS else caller.as_address()
        stamped = _stamp(store, item.mime, from_, sender, right)
        summary = mime.summarize(stamped)
        saved = _save_copy(store, item, stamped, summary, save_to, from_, sender)
        if saved is not None and _keeps_copy(principal, caller, right) and saved.mailbox != principal.key:
            _principal_copy(store, principal, saved, stamped, summary)
        transport(
            store,
            stamped,
            recipients,
            envelope_from=sender,
            via=f"submission by {caller.address}",
            summary=replace(summary, bcc=[]),
        )
        return Outcome(right=right, saved=saved)


def _unique(addrs: list[Address]) -> list[Address]:
    seen: dict[str, Address] = {}
    for a in addrs:
        seen.setdefault(a.key, a)
    return list(seen.values())


def _leave_in_drafts(store: Store, item: Item, principal: User | None) -> Item:
    """A refused submission leaves the message as a draft: in P's Drafts when P is a local mailbox and
    the item was not already a draft elsewhere, else where it is."""
    if item.folder.distinguished == "drafts" or principal is None:
        item.is_draft = True
        return item
    drafts = store.distinguished(principal.address, "drafts")
    if drafts is None or drafts is item.folder:
        return item
    return store.move(item, drafts)


def _stamp(store: Store, raw: bytes, from_: Address, sender: Address, right: SendRight) -> bytes:
    now = store.clock.now()
    return mime.edit_headers(
        raw,
        set_=[
            ("From", mime.format_address(from_)),
            ("Sender", mime.format_address(sender) if right is SendRight.SEND_ON_BEHALF else None),
        ],
        add_missing=[
            ("Message-ID", mime.new_message_id(store.hostname)),
            ("Date", format_datetime(now)),
            ("MIME-Version", "1.0"),
        ],
    )


def _save_copy(
    store: Store,
    item: Item,
    stamped: bytes,
    summary: mime.Summary,
    save_to: Folder | None,
    from_: Address,
    sender: Address,
) -> Item | None:
    """Keep the sent message (Bcc included, as the sender's copy shows it) or drop the draft."""
    now = store.clock.now()
    store.delete(item)
    if save_to is None:
        return None
    return store.add_item(
        save_to,
        stamped,
        summary=summary,
        from_=from_,
        sender=sender,
        is_read=True,
        is_from_me=True,
        is_submitted=True,
        is_draft=False,
        date_sent=now,
        categories=list(item.categories),
        extended=dict(item.extended),
    )


def _keeps_copy(principal: User, caller: User, right: SendRight) -> bool:
    """True when the principal's mailbox keeps a copy of what ``caller`` sent as / on behalf of it
    (MessageCopyForSentAsEnabled / MessageCopyForSendOnBehalfEnabled)."""
    if principal.key == caller.key:
        return False
    if right is SendRight.SEND_AS:
        return principal.message_copy_for_sent_as
    return right is SendRight.SEND_ON_BEHALF and principal.message_copy_for_send_on_behalf


def _principal_copy(store: Store, principal: User, saved: Item, stamped: bytes,
                    summary: mime.Summary) -> None:
    """A second sent copy in the principal's Sent Items, as Exchange Online's MessageCopyFor... makes."""
    sent = store.distinguished(principal.address, "sentitems")
    if sent is None:
        return
    store.add_item(sent, stamped, summary=summary, from_=saved.from_, sender=saved.sender, is_read=True,
                   is_from_me=True, is_submitted=True, is_draft=False, date_sent=saved.date_sent)


def transport(
    store: Store,
    raw: bytes,
    recipients: list[Address],
    *,
    envelope_from: Address,
    via: str,
    summary: mime.Summary | None = None,
) -> None:
    """Route one message: Bcc is stripped, internal recipients get Inbox copies, external ones one
    journal entry with a trace header, exactly as a remote server would receive it."""
    wire = mime.edit_headers(raw, set_=[("Bcc", None)])
    external: list[Address] = []
    for rcpt in _unique(recipients):
        user = store.user(rcpt.email)
        if user is None:
            external.append(rcpt)
        else:
            deliver(store, user, wire, summary, internal=True)
    if external:
        now = format_datetime(store.clock.now())
        trace = (
            f"from {store.hostname} ({store.hostname}) by {store.hostname} with Microsoft SMTP Server; {now}"
        )
        store.record_outbound(
            envelope_from.email, external, mime.edit_headers(wire, prepend=[("Received", trace)]), via
        )


def deliver(store: Store, user: User, raw: bytes, summary: mime.Summary | None = None, *,
            internal: bool = False) -> Item:
    """Put a message in ``user``'s Inbox, with the transport headers Exchange adds at delivery, and run
    their Inbox rules on it (``summary``: the message's already parsed headers, to save parsing them once
    per recipient; ``internal``: sent from inside the organisation)."""
    inbox = store.distinguished(user.address, "inbox")
    assert inbox is not None
    stamped = delivery_headers.stamp(store, raw, internal=internal)
    item = store.add_item(inbox, stamped, summary=summary, is_read=False)
    for rule in sorted(store.rules.get(user.key, []), key=lambda r: r.priority):
        if not applies(rule, item, user):
            continue
        item = _run_actions(store, user, rule, item)
        if rule.actions.stop_processing_rules or item.uid not in item.folder.items:
            break
    return item


def _run_actions(store: Store, owner: User, rule: Rule, item: Item) -> Item:
    act = rule.actions
    if act.assign_categories or act.mark_as_read or act.mark_importance:
        item.categories = list(dict.fromkeys(item.categories + act.assign_categories))
        item.is_read = item.is_read or act.mark_as_read
        item.importance = act.mark_importance or item.importance
        store.touch(item)
    if not already_forwarded_by(item, owner):
        _forward(store, owner, item, act.forward_as_attachment_to, act.forward_to, act.redirect_to)
    if act.copy_to_folder and (target := store.folder(act.copy_to_folder)) is not None:
        store.copy(item, target)
    if act.permanent_delete:
        store.delete(item)
    elif act.delete:
        item = store.move(item, store.distinguished(owner.address, "deleteditems") or item.folder)
    elif act.move_to_folder and (dest := store.folder(act.move_to_folder)) is not None:
        item = store.move(item, dest)
    return item


def _forward(
    store: Store,
    owner: User,
    item: Item,
    as_attachment: list[Address],
    inline: list[Address],
    redirect: list[Address],
) -> None:
    loop = (LOOP_HEADER, owner.address)
    me = owner.as_address()
    now = store.clock.now()
    if as_attachment:
        raw = mime.forward_as_attachment(
            item.mime,
            owner=me,
            to=as_attachment,
            subject=item.subject,
            date=now,
            message_id=mime.new_message_id(store.hostname),
        )
        transport(
            store,
            mime.edit_headers(raw, prepend=[loop]),
            as_attachment,
            envelope_from=me,
            via=f"inbox rule of {owner.address}",
        )
    if inline:
        fwd = mime.edit_headers(
            item.mime,
            set_=[
                ("From", mime.format_address(me)),
                ("Sender", None),
                ("To", mime.format_addresses(inline)),
                ("Cc", None),
                ("Subject", f"FW: {item.subject}"),
                ("Message-ID", mime.new_message_id(store.hostname)),
            ],
            prepend=[loop],
        )
        transport(store, fwd, inline, envelope_from=me, via=f"inbox rule of {owner.address}")
    if redirect:
        transport(
            store,
            mime.edit_headers(item.mime, prepend=[loop, ("Resent-From", mime.format_address(me))]),
            redirect,
            envelope_from=me,
            via=f"inbox rule of {owner.address}",
        )
