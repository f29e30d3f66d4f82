"""ConvertId: translate ids between EwsId, EwsLegacyId, EntryId, HexEntryId, StoreId and OwaId.

The answer names the mailbox that owns the item or folder, not the Mailbox attribute the caller sent.
"""

from __future__ import annotations

from router.simulator import ids
from router.simulator.operations.base import MALFORMED, Ctx, failure, operation, response_root, success
from router.simulator.xml import Element, child, children, msub


@operation("ConvertId")
def convert_id(ctx: Ctx, req: Element) -> Element:
    root, msgs = response_root("ConvertId")
    try:
        target = ids.IdFormat(req.get("DestinationFormat", "EwsId"))
    except ValueError:
        target = ids.IdFormat.EWS_ID
    for src in children(child(req, "SourceIds")):
        try:
            fmt = ids.IdFormat(src.get("Format", "EwsId"))
            oid = ids.decode(src.get("Id", ""), fmt)
        except (ValueError, ids.MalformedIdError):
            failure(msgs, "ConvertId", "ErrorInvalidIdMalformed", MALFORMED)
            continue
        exists = ctx.store.item(oid.uid) if oid.kind is ids.IdKind.ITEM else ctx.store.folder(oid.uid)
        if exists is None:
            failure(
                msgs, "ConvertId", "ErrorItemNotFound", "The specified object was not found in the store."
            )
            continue
        msg = success(msgs, "ConvertId")
        alt = msub(msg, "AlternateId")
        alt.set("{http://www.w3.org/2001/XMLSchema-instance}type", "t:AlternateIdType")
        alt.set("Format", target.value)
        alt.set("Id", ids.encode(oid, target))
        # The mailbox that owns the object, whatever the caller wrote in Mailbox (as Exchange answers).
        owner = ctx.store.user(exists.mailbox)
        alt.set("Mailbox", owner.address if owner is not None else exists.mailbox)
    return root
