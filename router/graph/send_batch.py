"""Several e-mails of one mailbox sent in one ``$batch`` of ``sendMail`` steps, each with its own outcome.

``sendMail`` takes one e-mail per request; a JSON batch carries up to 20 requests, so a lane's e-mails go
twenty to a round trip. Graph may run a batch's steps at once, and counts each against the app's limit
of 4 concurrent requests per mailbox, so the steps form ``CHAINS`` (4) chains by ``dependsOn``: step n
waits for step n - 4, and at most four sends of the mailbox run at a time; the batch holds as many of
the client's slots for the mailbox (router.graph.throttle), so that other requests to it (another lane
sending through the same service mailbox) wait rather than go past Graph's limit.

Outcomes, per e-mail: 202 is sent. A step Graph did not run is sent again in the next round: 429 (after
its Retry-After) and 424 Failed Dependency (the step before it in its chain failed: a refused e-mail
must not cost the others theirs). Any other failure is that e-mail's error (ErrorSendAsDenied,
ErrorMessageSizeExceeded, a 5xx after which the e-mail may have left: its next attempt looks in Sent
Items first, as after any failed send). A batch that fails as a whole (no answer, an answer without its
steps) raises, and the caller looks in Sent Items by Message-ID before sending any of them again; the
batch request itself is sent again only after answers that say Graph did not run it (401, 429).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from router.errors import TransientTransportError, TransportError
from router.graph.errors import from_answer, retry_after
from router.graph.throttle import MAILBOX_CONCURRENCY

if TYPE_CHECKING:
    from router.graph.mailbox import GraphMailbox

MAX_STEPS = 20
"""Graph's limit of steps in one JSON batch."""
MAX_BATCH_CHARS = 3 * 1024 * 1024
"""Most base64 MIME characters one batch carries (Graph refuses requests of more than about 4 MB);
an e-mail larger than this goes alone."""
CHAINS = MAILBOX_CONCURRENCY
"""Sends of one batch that may run at once: Graph's concurrency limit per mailbox."""
ROUNDS = 4
"""How often the steps Graph did not run (429, 424) are sent again before they fail."""
NOT_RUN = (424, 429)
HEADERS = {"Content-Type": "text/plain"}


def send_many(mailbox: GraphMailbox, mimes: Sequence[bytes]) -> list[TransportError | None]:
    """Send each MIME from ``mailbox`` (``sendMail``, saved to its Sent Items); per e-mail, None when
    Graph accepted it, else its error. Raises when a batch fails as a whole (outcome unknown)."""
    bodies = [base64.b64encode(mime).decode("ascii") for mime in mimes]
    out: list[TransportError | None] = [None] * len(mimes)
    for indexes in _chunks([len(body) for body in bodies]):
        _send_chunk(mailbox, indexes, bodies, out)
    return out


def _chunks(sizes: Sequence[int]) -> list[list[int]]:
    """The e-mails' indexes, in order, grouped within ``MAX_STEPS`` and ``MAX_BATCH_CHARS``."""
    chunks: list[list[int]] = [[]]
    total = 0
    for index, size in enumerate(sizes):
        if chunks[-1] and (len(chunks[-1]) >= MAX_STEPS or total + size > MAX_BATCH_CHARS):
            chunks.append([])
            total = 0
        chunks[-1].append(index)
        total += size
    return [chunk for chunk in chunks if chunk]


def _send_chunk(mailbox: GraphMailbox, indexes: list[int], bodies: Sequence[str],
                out: list[TransportError | None]) -> None:
    pending = indexes
    for round_ in range(ROUNDS):
        by_id = _post(mailbox, _steps(mailbox, pending, bodies))
        again: list[int] = []
        for index in pending:
            step = by_id.get(str(index))
            status = int(step.get("status") or 0) if step else 0
            if status == 0:
                out[index] = _unanswered(mailbox, index)
            elif status < 300:
                out[index] = None
            else:
                headers = {str(k): str(v) for k, v in dict(step.get("headers") or {}).items()} if step else {}
                body = (step or {}).get("body") or {}
                out[index] = _not_run(mailbox, index) if status == 424 else from_answer(
                    status, headers, body, method="sendMail", mailbox=mailbox.address)
                if status in NOT_RUN and round_ < ROUNDS - 1:
                    if status == 429:
                        mailbox.client.throttle.back_off(mailbox.address, retry_after(headers))
                    again.append(index)
        if not again:
            return
        pending = again


def _steps(mailbox: GraphMailbox, indexes: Sequence[int], bodies: Sequence[str]) -> list[dict[str, object]]:
    """One ``sendMail`` step per e-mail, id = its index; step n depends on step n - ``CHAINS``."""
    url = f"{mailbox.root}/sendMail"
    steps: list[dict[str, object]] = []
    for n, index in enumerate(indexes):
        step: dict[str, object] = {"id": str(index), "method": "POST", "url": url, "headers": HEADERS,
                                   "body": bodies[index]}
        if n >= CHAINS:
            step["dependsOn"] = [str(indexes[n - CHAINS])]
        steps.append(step)
    return steps


def _post(mailbox: GraphMailbox, steps: list[dict[str, object]]) -> dict[str, dict[str, Any]]:
    """The batch's step answers by id; raises (outcome unknown) when the batch has no readable answer."""
    response = mailbox.client.request("POST", mailbox.address, "/$batch", once=True,
                                      weight=min(CHAINS, len(steps)), json={"requests": steps})
    try:
        answers = response.json()["responses"]
        return {str(a["id"]): a for a in answers if isinstance(a, dict) and "id" in a}
    except (ValueError, KeyError, TypeError) as exc:
        raise TransientTransportError(
            f"Graph answered a batch of {len(steps)} sends without readable step answers "
            f"({type(exc).__name__})",
            hint="whether they left is unknown: the router looks for them in Sent Items before sending again",
            mailbox=mailbox.address, back_off=10.0, code="BatchAnswerUnreadable",
        ) from None


def _unanswered(mailbox: GraphMailbox, index: int) -> TransportError:
    """A step the batch's answer left out: it may have run, so its next attempt looks in Sent Items."""
    return TransientTransportError(
        f"Graph's batch answer has no outcome for send step {index}",
        hint="whether it left is unknown: the router looks for it in Sent Items before sending again",
        mailbox=mailbox.address, back_off=10.0, code="BatchStepUnanswered",
    )


def _not_run(mailbox: GraphMailbox, index: int) -> TransportError:
    """A step Graph did not run because the one before it in its chain failed (424): not sent."""
    return TransientTransportError(
        f"Graph did not run send step {index}: the send before it in the batch failed (FailedDependency)",
        hint="the e-mail was not sent; the router sends it again", mailbox=mailbox.address, back_off=1.0,
        code="FailedDependency",
    )
