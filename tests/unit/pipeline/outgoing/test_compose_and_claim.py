"""From a claimed CRM email to the message to render, and the send record's claim on it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.crm.codes import Importance
from router.crm.gateway import Attachment, OutgoingEmail, Party, RecordRef
from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.claim import Backlog, SendClaimer, Taken
from router.pipeline.outgoing.compose import compose, sender_address, thread_index_value
from router.pipeline.outgoing.message import Priority
from router.pipeline.outgoing.thread_index import new_thread_index
from router.state import StateStore, sqlite_url

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = RecordRef("systemuser", "u-1", "Alice Archer")


def outgoing(email_id: str = "e-1", **changes: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "email_id": email_id, "subject": "RE: Quote CRM:0001001", "body_html": "<p>Hi</p>",
        "sender": Party("alice@contoso.com", ALICE), "sender_mailbox_id": "m-1",
        "to": (Party("carol@fabrikam.com", RecordRef("contact", "c-1", "Carol Clark")),),
        "cc": (Party("unresolved@example.org"),), "bcc": (Party("bert@contoso.com", None),),
        "attachments": (Attachment("a.pdf", "application/pdf", b"%PDF", None),
                        Attachment("logo.png", "image/png", b"\x89PNG", "logo@x")),
        "importance": Importance.HIGH, "in_reply_to": "<p2@fabrikam.com>",
        "references": ("<p1@contoso.com>", "<p2@fabrikam.com>"),
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def test_parties_attachments_priority_and_parent_are_carried_over() -> None:
    message = compose(outgoing(), sender=MailAddress("alice@contoso.com", "Alice"),
                      message_id="<m@contoso.com>", date=NOW)
    assert message.to == (MailAddress("carol@fabrikam.com", "Carol Clark"),)
    assert message.cc == (MailAddress("unresolved@example.org", ""),)
    assert message.bcc == (MailAddress("bert@contoso.com", ""),)
    assert [(a.filename, a.content_type, a.inline) for a in message.attachments] == [
        ("a.pdf", "application/pdf", False), ("logo.png", "image/png", True)]
    assert message.priority is Priority.HIGH and message.activity_id == "e-1"
    assert message.parent is not None and message.parent.message_id == "<p2@fabrikam.com>"
    assert message.parent.references == ("<p1@contoso.com>",), "the parent itself is added by render"


def test_a_new_email_has_no_parent() -> None:
    message = compose(outgoing(in_reply_to=None, references=()), sender=MailAddress("a@contoso.com"),
                      message_id="<m@contoso.com>", date=NOW)
    assert message.parent is None


def test_from_is_the_lane_mailbox_named_as_the_crm_names_the_sender() -> None:
    assert sender_address(outgoing(), "alice@contoso.com", "Mailbox name") == MailAddress(
        "alice@contoso.com", "Alice Archer")
    unnamed = outgoing(sender=Party("sales@contoso.com"))
    assert sender_address(unnamed, "sales@contoso.com", "Sales") == MailAddress("sales@contoso.com", "Sales")


def test_the_crms_conversation_index_becomes_a_thread_index_header() -> None:
    header = new_thread_index(NOW, uuid.UUID(int=5))
    as_hex = base64.b64decode(header).hex().upper()
    assert thread_index_value(as_hex) == header, "the embedded CRM stores hex"
    assert thread_index_value(header) == header, "base64 passes through"
    assert thread_index_value("  ") is None and thread_index_value(None) is None
    assert thread_index_value("garbage!") == "garbage!", "render repairs what cannot be decoded"


def test_the_backlog_keeps_order_and_skips_emails_it_already_holds() -> None:
    backlog = Backlog()
    assert backlog.add([outgoing("a"), outgoing("b")]) == 2
    assert backlog.add([outgoing("b"), outgoing("c")]) == 1
    assert backlog.take().email_id == "a"
    assert [e.email_id for e in backlog.drain()] == ["b", "c"] and len(backlog) == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(sqlite_url(tmp_path / "state.sqlite"), FrozenClock(NOW)) as opened:
        yield opened


def test_the_first_claim_records_a_message_id_in_the_mailboxs_domain(store: StateStore) -> None:
    taken = SendClaimer(store.sends, "w1").take("alice@contoso.com", outgoing())
    assert taken.taken is Taken.ACQUIRED and taken.message_id.endswith("@contoso.com>")
    assert not taken.claim.may_have_been_sent
    again = SendClaimer(store.sends, "w2").take("alice@contoso.com", outgoing())
    assert again.taken is Taken.BUSY, "another live worker holds it"


def test_a_sent_email_is_never_claimed_for_sending_again(store: StateStore) -> None:
    first = SendClaimer(store.sends, "w1").take("alice@contoso.com", outgoing()).claim
    store.sends.mark_rendered(first)
    store.sends.mark_submitted(first)
    store.sends.mark_recorded(first)
    again = SendClaimer(store.sends, "w2").take("alice@contoso.com", outgoing())
    assert again.taken is Taken.ALREADY_SENT and again.message_id == first.message_id


def test_a_failed_email_handed_back_is_reopened_and_searched_for_first(store: StateStore) -> None:
    first = SendClaimer(store.sends, "w1").take("alice@contoso.com", outgoing()).claim
    store.sends.mark_failed(first, "ErrorSendAsDenied")
    again = SendClaimer(store.sends, "w2").take("alice@contoso.com", outgoing())
    assert again.taken is Taken.ACQUIRED and again.message_id == first.message_id
    assert again.claim.may_have_been_sent
