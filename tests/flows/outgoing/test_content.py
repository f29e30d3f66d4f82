"""What the recipients get: threading headers on replies, attachments, Bcc delivered yet invisible."""

from __future__ import annotations

import base64

import pytest

from router.crm.embedded import EmbeddedGateway
from router.crm.gateway import Attachment
from router.pipeline.outgoing.thread_index import new_thread_index, parse_thread_index
from tests.flows.outgoing.world import ALICE, BERT, CAROL, OutgoingWorld
from tests.support.crm import CLOCK_START, SERVICE_ACCOUNT, Organisation, incoming_email

pytestmark = pytest.mark.flow


def test_a_reply_threads_with_the_mail_it_answers(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    parent_index = new_thread_index(CLOCK_START, None)
    received = EmbeddedGateway(world.crm, SERVICE_ACCOUNT).deliver_incoming(incoming_email(
        message_id="<q2@fabrikam.com>", in_reply_to="<q1@contoso.com>", subject="Hello",
        conversation_index=parent_index))
    email_id = world.pending(crm_org.alice, CAROL, subject="RE: Hello", parent_email_id=received.email_id)
    world.run(ALICE)
    [reply] = world.journal(world.row(email_id)["messageid"])
    assert reply["In-Reply-To"] == "<q2@fabrikam.com>"
    assert reply["References"].split() == ["<q1@contoso.com>", "<q2@fabrikam.com>"]
    index = base64.b64decode(reply["Thread-Index"])
    assert index[:22] == base64.b64decode(parent_index) and len(index) == 27, "a child of the parent's index"
    child, parent = parse_thread_index(reply["Thread-Index"]), parse_thread_index(parent_index)
    assert (child.guid, len(child.responses)) == (parent.guid, 1)
    assert reply["Thread-Topic"] == world.row(email_id)["subject"].removeprefix("RE: ")


def test_a_new_email_starts_a_conversation(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    email_id = world.pending(crm_org.alice, CAROL, subject="Quote 42")
    world.run(ALICE)
    [sent] = world.journal(world.row(email_id)["messageid"])
    assert sent["In-Reply-To"] is None and sent["References"] is None
    assert len(base64.b64decode(sent["Thread-Index"])) == 22 and sent["Thread-Topic"].startswith("Quote 42")


def test_attachments_and_inline_images_arrive_intact(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    logo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    email_id = world.pending(
        crm_org.alice, CAROL, subject="Quote with files",
        body='<p>See the quote.</p><img src="cid:logo@contoso">',
        attachments=(Attachment("Quote 42 \u2013 Fabrikam.pdf", "application/pdf", pdf),
                     Attachment("logo.png", "image/png", logo, "logo@contoso")))
    world.run(ALICE)
    [sent] = world.journal(world.row(email_id)["messageid"])
    files = {part.get_filename(): part.get_content() for part in sent.iter_attachments()}
    assert files["Quote 42 \u2013 Fabrikam.pdf"] == pdf
    inline = [part for part in sent.walk() if part["Content-ID"] == "<logo@contoso>"]
    assert [part.get_content() for part in inline] == [logo]


def sent_with_bcc(world: OutgoingWorld, crm_org: Organisation) -> str:
    """Alice's email to Carol with Bert in Bcc, sent by one run: Carol and Bert receive it and no copy
    they get shows Bert; Bert's travels inside the message, not through the journal. Its Message-ID."""
    email_id = world.pending(crm_org.alice, CAROL, subject="Quote 42", bcc=(BERT,))
    assert world.run(ALICE).processed == 1
    message_id = str(world.row(email_id)["messageid"])
    [remote] = world.journal(message_id)
    [blind] = world.inbox(BERT)
    for copy in (remote, blind):
        assert copy["Bcc"] is None and BERT not in copy.as_string()
    assert blind["Message-ID"] == message_id
    [journal_entry] = world.sim.control.journal()
    assert journal_entry.recipients == (CAROL,), "Bert got his copy inside, not through the journal"
    return message_id


def test_bcc_recipients_receive_it_and_nobody_sees_them(world: OutgoingWorld, crm_org: Organisation) -> None:
    world.grant("full_access")
    world.grant("send_as")
    world.publish()
    sent_with_bcc(world, crm_org)
    [saved] = world.inbox(ALICE, "sentitems")
    assert saved["Bcc"] == "Bert Brown <bert@contoso.com>", "only the sender's copy shows its Bcc"
