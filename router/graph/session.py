"""The mailbox-session contract (router.mailbox.session) over Microsoft Graph.

Graph's change notifications need a public webhook, which on-premises installations do not have, so
``wait_for_changes`` is a plain wait and the lane polls by delta, which is cheap: an unchanged Inbox
answers one small page with the same delta link.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.clock import Clock
from router.errors import TransportError
from router.graph.mailbox import GraphMailbox
from router.mailbox.session import Acknowledge, ItemRef, MessageContent, SyncPage


class GraphSession:
    """``MailboxSession`` for one mailbox over Graph."""

    def __init__(self, mailbox: GraphMailbox, clock: Clock) -> None:
        self.address = mailbox.address
        self._mailbox = mailbox
        self._clock = clock

    def sync_page(self, state: str | None, *, max_changes: int = 50) -> SyncPage:
        if state is not None and not state.startswith(self._mailbox.client.graph_url + "/"):
            return SyncPage(reset=True)  # not a link this Graph gave: start over, as after a 410
        page = self._mailbox.delta_page(state, page_size=max_changes)
        if page.reset:
            return SyncPage(reset=True)
        return SyncPage(
            items=[ItemRef(m.id, m.internet_message_id, m.received) for m in page.messages],
            removed=list(page.removed),
            state=page.next_link or page.delta_link,
            more=page.next_link is not None,
        )

    def fetch_mime(self, ids: Sequence[str]) -> dict[str, bytes | TransportError]:
        return self._mailbox.fetch_mime(ids)

    def fetch(self, ids: Sequence[str]) -> dict[str, MessageContent | TransportError]:
        out: dict[str, MessageContent | TransportError] = {}
        for item_id, answer in self._mailbox.fetch_messages(ids).items():
            if isinstance(answer, TransportError):
                out[item_id] = answer
            else:
                mime, props = answer
                out[item_id] = MessageContent(mime, props.categories, props.received)
        return out

    def acknowledge(self, ids: Sequence[str], action: Acknowledge) -> dict[str, str | TransportError]:
        return self._mailbox.acknowledge(
            ids,
            categories=action.categories,
            mark_read=action.mark_read,
            move_to=action.move_to,
            delete=action.delete,
        )

    def send_mime(self, mime: bytes) -> None:
        self._mailbox.send_mime(mime)

    def find_sent(self, message_id: str) -> str | None:
        return self._mailbox.find_sent(message_id)

    def wait_for_changes(self, timeout: float) -> bool:
        self._clock.sleep(timeout)
        return False
