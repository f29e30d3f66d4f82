"""Shared logging mailboxes: only the queue folder is read, and processed mail moves to storage.

A shared logging mailbox (as Business Central's email logging uses one) receives copies of the
organisation's external mail through mail-flow rules. The lane synchronises its queue folder (the
Inbox or a folder below it; configuration refuses Junk Email) instead of the Inbox, so junk is never
processed. Every processed message, whether the CRM took it or not, moves to the storage folder; the
CRM's party resolution links the activity to the internal users and external contacts it names
(From, To and Cc are all passed). Exchange gives a moved item a new id: the ledger keeps it, and the
decision trail records it with an Outlook on the web link, so the activity's stored message can be
opened from ``email-router trace``.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from router.config.incoming import Acknowledgement, SharedLogging
from router.pipeline.incoming.acknowledge import AckPlan
from router.pipeline.incoming.contract_session import ContractSession, LaneSession
from router.pipeline.incoming.session import MailboxSession


def storage_plan(logging: SharedLogging, ack: Acknowledgement) -> AckPlan:
    """Acknowledge by moving to the storage folder (category and read flag as the profile says)."""
    return AckPlan(category=ack.category, mark_read=ack.mark_read, move_to=logging.storage_folder,
                   touch_unaccepted=True)


def stored_message_link(session: MailboxSession, item_id: str) -> str:
    """Outlook on the web's link to a stored item, on the server the session talks to."""
    endpoint = urlsplit(str(session.account.protocol.service_endpoint))
    return (f"{endpoint.scheme}://{endpoint.netloc}/owa/?ItemID={quote(item_id, safe='')}"
            "&exvsurl=1&viewmodel=ReadMessageItem")


def storage_note(session: LaneSession, item_id: str) -> str:
    """The trail's words for where a processed message is stored now."""
    if isinstance(session, ContractSession):
        return f"stored message: item id {item_id} in {session.mailbox}"
    return f"stored message: {stored_message_link(session, item_id)} (item id {item_id})"
