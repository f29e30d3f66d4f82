"""The mailbox-session contract (router.mailbox.session) over Microsoft Graph.

Graph's change notifications need a public webhook, which on-premises installations do not have, so
``wait_for_changes`` is a plain wait; idle lanes are watched by ``router.graph.delta_poller`` instead.

A delta page already carries each message's categories and arrival time (``$select``), so ``fetch``
asks only for the MIME of the messages the last pages reported (twenty per ``$batch``); a message it
has not seen on a page (a ledger row recovered after a restart), or has changed since (acknowledged),
costs a second step for its properties. The properties are those of the page read moments before, as
over EWS those of the GetItem read before the acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.clock import Clock
from router.errors import TransportError
from router.graph.mailbox import DeltaMessage, GraphMailbox
from router.mailbox.session import Acknowledge, ItemRef, MessageContent, SyncPage

SEEN_MAX = 5000
"""Most message properties kept from delta pages (a lane fetches what a page reported at once)."""


class GraphSession:
    """``MailboxSession`` for one mailbox over Graph."""

    def __init__(self, mailbox: GraphMailbox, clock: Clock) -> None:
        self.address = mailbox.address
        self._mailbox = mailbox
        self._clock = clock
        self._seen: dict[str, DeltaMessage] = {}
        """Properties of the messages the recent delta pages reported, until they are fetched."""

    def sync_page(self, state: str | None, *, max_changes: int = 50) -> SyncPage:
        if state is not None and not state.startswith(self._mailbox.client.graph_url + "/"):
            return SyncPage(reset=True)  # not a link this Graph gave: start over, as after a 410
        page = self._mailbox.delta_page(state, page_size=max_changes)
        if page.reset:
            return SyncPage(reset=True)
        if len(self._seen) > SEEN_MAX:
            self._seen.clear()
        self._seen.update((m.id, m) for m in page.messages)
        return SyncPage(
            items=[ItemRef(m.id, m.internet_message_id, m.received) for m in page.messages],
            removed=list(page.removed),
            state=page.next_link or page.delta_link,
            more=page.next_link is not None,
        )

    def fetch_mime(self, ids: Sequence[str]) -> dict[str, bytes | TransportError]:
        return self._mailbox.fetch_mime(ids)

    def fetch(self, ids: Sequence[str]) -> dict[str, MessageContent | TransportError]:
        known = {item_id: self._seen.pop(item_id) for item_id in ids if item_id in self._seen}
        out: dict[str, MessageContent | TransportError] = {}
        for item_id, mime in self._mailbox.fetch_mime(list(known)).items():
            props = known[item_id]
            out[item_id] = mime if isinstance(mime, TransportError) else MessageContent(
                mime, props.categories, props.received)
        unknown = [item_id for item_id in ids if item_id not in known]
        for item_id, answer in (self._mailbox.fetch_messages(unknown) if unknown else {}).items():
            out[item_id] = answer if isinstance(answer, TransportError) else MessageContent(
                answer[0], answer[1].categories, answer[1].received)
        return out

    def acknowledge(self, ids: Sequence[str], action: Acknowledge) -> dict[str, str | TransportError]:
        for item_id in ids:  # their properties change: a fetch asks Graph again
            self._seen.pop(item_id, None)
        return self._mailbox.acknowledge(
            ids,
            categories=action.categories,
            mark_read=action.mark_read,
            move_to=action.move_to,
            delete=action.delete,
        )

    def send_mime(self, mime: bytes) -> None:
        self._mailbox.send_mime(mime)

    def send_mime_many(self, mimes: Sequence[bytes]) -> list[TransportError | None]:
        return self._mailbox.send_mime_many(mimes)

    def find_sent(self, message_id: str) -> str | None:
        return self._mailbox.find_sent(message_id)

    def wait_for_changes(self, timeout: float) -> bool:
        self._clock.sleep(timeout)
        return False
