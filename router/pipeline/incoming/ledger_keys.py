"""The ledger key of one item: its message key, unless another item of the mailbox already has it.

The message key (``message_ids``) names a *message*: the CRM's duplicate check and the ledger use it
to recognise a message seen before. But one mailbox can hold two *items* of one message key: a resend
under the same Message-ID with another body, a copy with more Cc, or two messages without a
Message-ID whose derived keys collide. Each item must still get its own ledger row, decision and
acknowledgement, so the second and later items are keyed ``<message key>#item-<digest of item id>``.

The first item keeps the plain message key, so nothing changes for the usual one-item-per-message
mailbox, and the key stays stable across re-reads: the same item (same item id, or the id a move gave
it, which the ledger records) maps to the same row. The ledger schema is unchanged: only the stored
key's value differs for the extra items (the column holds up to 998 characters; a key is at most 320
plus 23).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from router.state import LedgerEntry

ITEM_SUFFIX = "#item-"


class LedgerReader(Protocol):
    """What ``ledger_key`` reads: the ledger itself, or a ``LedgerBatch`` (its batch's transaction)."""

    def get(self, mailbox: str, message_key: str) -> LedgerEntry | None: ...


def ledger_key(ledger: LedgerReader, mailbox: str, message_key: str,
               item_id: str | None) -> tuple[str, LedgerEntry | None]:
    """The key for ``item_id``'s row and, when it is a further item, the row of the first item."""
    first = ledger.get(mailbox, message_key)
    if first is None or not item_id or first.item_id is None or first.item_id == item_id:
        return message_key, None
    digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{message_key}{ITEM_SUFFIX}{digest}", first


def message_key_of(ledger_key_value: str) -> str:
    """The message key a ledger key stands for (the key itself for a first item)."""
    return ledger_key_value.split(ITEM_SUFFIX, 1)[0]
