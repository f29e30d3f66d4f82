"""Two workers at once: claims never overlap, a message delivered twice at once is one activity."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from router.crm.codes import EmailStatus
from tests.contract.conftest import Target
from tests.support.crm import draft_email, incoming_email

T = TypeVar("T")


def _together(*calls: Callable[[], T]) -> list[T]:
    """Run ``calls`` in threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return [r for r in results if r is not None]


def test_two_workers_claiming_at_once_never_get_the_same_email(target: Target) -> None:
    pending = set()
    for n in range(12):
        email_id = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", subject=f"n{n}")
        target.crm.send_email(None, email_id)
        pending.add(email_id)
    boxes = target.org.mailbox_ids
    other = target.another_gateway()
    try:
        rounds = [
            _together(
                lambda: target.gateway.background_send(boxes, 4), lambda: other.background_send(boxes, 4)
            )
            for _ in range(3)
        ]
    finally:
        other.close()
    claimed = [e.email_id for batches in rounds for batch in batches for e in batch]
    assert len(claimed) == len(set(claimed)) == 12 and set(claimed) == pending
    assert {EmailStatus(target.crm.email(i).row["statuscode"]) for i in pending} == {EmailStatus.SENDING}


def test_the_same_message_delivered_at_once_through_two_mailboxes_is_one_activity(target: Target) -> None:
    other = target.another_gateway()
    to_both = {"to": ("alice@contoso.com", "bert@contoso.com")}
    try:
        results = _together(
            lambda: target.gateway.deliver_incoming(incoming_email(**to_both)),
            lambda: other.deliver_incoming(incoming_email(**to_both, receiving_address="bert@contoso.com")),
        )
    finally:
        other.close()
    assert len({r.email_id for r in results}) == 1
    assert len(target.crm.emails(incoming=True)) == 1
    assert sum(r.created_new for r in results) >= 1
