"""Sending over Graph: a draft created from MIME then sent, or ``sendMail`` with a MIME body.

Exchange decides the sender exactly as on the EWS face (submission.submit), with the mailbox the URL
names as the caller: calling as the service mailbox with From set to a user sends as the user with Send
As, on behalf with Send On Behalf, and fails with ErrorSendAsDenied otherwise; calling on the user's own
mailbox sends as the user. The sent copy goes to the URL mailbox's Sent Items.
"""

from __future__ import annotations

import base64
import binascii

from router.simulator.graph import resources
from router.simulator.graph.context import GraphCtx, GraphResponse
from router.simulator.graph.resources import GraphError
from router.simulator.model import Item
from router.simulator.submission import submit

_STATUS = {"ErrorSendAsDenied": 403, "ErrorMessageSizeExceeded": 413}


def _mime(ctx: GraphCtx) -> bytes:
    """The MIME of a ``text/plain`` base64 body, the only MIME form Graph accepts."""
    if not ctx.headers.get("content-type", "").lower().startswith("text/plain"):
        raise GraphError(
            400,
            "ErrorMimeContentInvalid",
            "The simulator accepts MIME only: send the base64 MIME with Content-Type: text/plain.",
        )
    try:
        raw = base64.b64decode(ctx.body.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GraphError(
            400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
        ) from exc
    if not raw.strip():
        raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is empty.")
    return raw


def _draft(ctx: GraphCtx, raw: bytes) -> Item:
    return ctx.store.add_item(ctx.folder("drafts"), raw, is_draft=True, is_read=True)


def create_message(ctx: GraphCtx) -> GraphResponse:
    """POST ``messages`` with MIME: a draft in the mailbox's Drafts."""
    return GraphResponse.of(201, resources.message(_draft(ctx, _mime(ctx))))


def _submit(ctx: GraphCtx, item: Item) -> GraphResponse:
    outcome = submit(
        ctx.store, ctx.user, item, save_to=ctx.folder("sentitems"), max_bytes=ctx.config.max_message_bytes
    )
    if outcome.code is not None:
        raise GraphError(_STATUS.get(outcome.code, 400), outcome.code, outcome.message)
    return GraphResponse(202)


def send_draft(ctx: GraphCtx) -> GraphResponse:
    """POST ``messages/{id}/send``: submit a draft."""
    item = ctx.item()
    if not item.is_draft:
        raise GraphError(400, "ErrorInvalidOperation", "Only a draft message can be sent.")
    return _submit(ctx, item)


def send_mail(ctx: GraphCtx) -> GraphResponse:
    """POST ``sendMail`` with MIME: submit at once, saving to Sent Items."""
    return _submit(ctx, _draft(ctx, _mime(ctx)))
