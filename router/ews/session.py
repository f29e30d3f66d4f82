"""The mailbox-session contract (router.mailbox.session) over EWS, through exchangelib.

The same operations the Graph implementation offers, on an exchangelib ``Account`` that the account
factory built: SyncFolderItems pages of the Inbox (the sync state is the saved state), GetItem with
MimeContent, UpdateItem / MoveItem for acknowledgement, CreateItem with MimeContent and SendAndSaveCopy,
and FindItem on Sent Items by Message-ID. Per-item failures are values, as the contract says.
SyncFolderItems goes through ``router.ews.sync``, as the incoming lane's own sync does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchangelib import Message
from exchangelib.items import MOVE_TO_DELETED_ITEMS

from router.clock import Clock
from router.errors import TransportError
from router.ews.errors import ews_errors, translate
from router.ews.sync import CREATE, DELETE, INVALID_STATE, plain_utc, sync_changes
from router.mailbox.session import Acknowledge, ItemRef, MessageContent, SyncPage

SYNC_FIELDS = ("message_id", "datetime_received")
WELL_KNOWN = {
    "inbox": "inbox",
    "deleteditems": "trash",
    "sentitems": "sent",
    "drafts": "drafts",
    "junkemail": "junk",
}


class EwsSession:
    """``MailboxSession`` for one mailbox over EWS (``account``: an exchangelib Account on it)."""

    def __init__(self, account: Any, clock: Clock) -> None:
        self.address = str(account.primary_smtp_address)
        self._account = account
        self._clock = clock

    def sync_page(self, state: str | None, *, max_changes: int = 50) -> SyncPage:
        try:
            page = sync_changes(self._account, self._account.inbox, state, max_changes, SYNC_FIELDS,
                                mailbox=self.address)
        except TransportError as err:
            if err.code == INVALID_STATE:
                return SyncPage(reset=True)
            raise
        created = [
            ItemRef(
                str(item.id),
                getattr(item, "message_id", None),
                plain_utc(getattr(item, "datetime_received", None)),
            )
            for kind, item in page.changes
            if kind == CREATE
        ]
        removed = [str(getattr(item, "id", item)) for kind, item in page.changes if kind == DELETE]
        return SyncPage(items=created, removed=removed, state=page.state, more=page.more)

    def fetch_mime(self, ids: Sequence[str]) -> dict[str, bytes | TransportError]:
        with ews_errors(mailbox=self.address):
            answers = list(self._account.fetch(ids=[(i, None) for i in ids], only_fields=["mime_content"]))
        return {i: self._mime(i, answer) for i, answer in zip(ids, answers, strict=True)}

    def _mime(self, item_id: str, answer: object) -> bytes | TransportError:
        if isinstance(answer, BaseException):
            return translate(answer, mailbox=self.address, item_id=item_id)
        return bytes(getattr(answer, "mime_content", b"") or b"")

    def fetch(self, ids: Sequence[str]) -> dict[str, MessageContent | TransportError]:
        fields = ["mime_content", "categories", "datetime_received"]
        with ews_errors(mailbox=self.address):
            answers = list(self._account.fetch(ids=[(i, None) for i in ids], only_fields=fields))
        return {i: self._content(i, answer) for i, answer in zip(ids, answers, strict=True)}

    def _content(self, item_id: str, answer: object) -> MessageContent | TransportError:
        if isinstance(answer, BaseException):
            return translate(answer, mailbox=self.address, item_id=item_id)
        categories = tuple(str(c) for c in getattr(answer, "categories", None) or ())
        mime = bytes(getattr(answer, "mime_content", b"") or b"")
        return MessageContent(mime, categories, plain_utc(getattr(answer, "datetime_received", None)))

    def acknowledge(self, ids: Sequence[str], action: Acknowledge) -> dict[str, str | TransportError]:
        out: dict[str, str | TransportError] = {i: i for i in ids}
        if action.delete:
            with ews_errors(mailbox=self.address):
                answers = list(
                    self._account.bulk_delete(ids=[(i, None) for i in ids], delete_type=MOVE_TO_DELETED_ITEMS)
                )
            self._settle(out, ids, answers)
            return out
        fields = (["categories"] if action.categories is not None else []) + (
            ["is_read"] if action.mark_read else []
        )
        if fields:
            items = [
                Message(
                    account=self._account,
                    id=i,
                    changekey=None,
                    categories=list(action.categories or []),
                    is_read=True,
                )
                for i in ids
            ]
            with ews_errors(mailbox=self.address):
                answers = list(self._account.bulk_update(items=[(m, fields) for m in items]))
            self._settle(out, ids, answers)
        if action.move_to:
            live = [i for i in ids if not isinstance(out[i], TransportError)]
            with ews_errors(mailbox=self.address):
                moved = list(
                    self._account.bulk_move(
                        ids=[(i, None) for i in live], to_folder=self._folder(action.move_to)
                    )
                )
            self._settle(out, live, moved)
        return out

    def _settle(self, out: dict[str, str | TransportError], ids: Sequence[str], answers: list[Any]) -> None:
        for item_id, answer in zip(ids, answers, strict=True):
            if isinstance(answer, BaseException):
                out[item_id] = translate(answer, mailbox=self.address, item_id=item_id)
            elif isinstance(answer, tuple) and answer and isinstance(answer[0], str):
                out[item_id] = answer[0]

    def _folder(self, path: str) -> Any:
        """A folder path from the top of the mailbox (``Inbox/CRM``; the first name may be well-known)."""
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        attribute = WELL_KNOWN.get(parts[0].lower()) if parts else None
        node = getattr(self._account, attribute) if attribute else self._account.msg_folder_root
        for part in parts[1:] if attribute else parts:
            node = node / part
        return node

    def send_mime(self, mime: bytes) -> None:
        with ews_errors(mailbox=self.address):
            Message(account=self._account, folder=self._account.sent, mime_content=mime).send_and_save()

    def find_sent(self, message_id: str) -> str | None:
        with ews_errors(mailbox=self.address):
            found = list(self._account.sent.filter(message_id=message_id).only("id")[:1])
        return str(found[0].id) if found else None

    def wait_for_changes(self, timeout: float) -> bool:
        # The pipelines' streaming notifications (router/pipeline/incoming/notifications.py) move behind
        # this call when they use the contract; until then a plain wait, as for Graph.
        self._clock.sleep(timeout)
        return False
