"""Size policy, forward mailbox mode and the shared logging mailbox, end to end."""

from __future__ import annotations

import base64

import pytest

from router.crm.codes import ParticipationType
from router.state import LedgerStage
from tests.flows.incoming.rig import ALICE, BERT, CAROL, FORWARD, FRANK, LOGBOOK, Rig, binding
from tests.unit.pipeline.incoming.builders import mime

pytestmark = pytest.mark.flow


def with_attachments(message_id: str, *sizes: int) -> bytes:
    """A multipart message from Carol to Bert with one attachment of each size."""
    parts = ["--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"]
    for n, size in enumerate(sizes, 1):
        data = base64.encodebytes(bytes(range(256)) * (size // 256)).decode()
        parts.append(f"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
                     f'filename="file{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n{data}')
    body = "\r\n".join(parts) + "--b--"
    return mime(f"Message-ID: {message_id}", f"From: Carol <{CAROL}>", f"To: {BERT}",
                'Content-Type: multipart/mixed; boundary="b"', body=body)


def test_oversized_attachments_are_stripped_and_noted_on_the_activity(rig: Rig) -> None:
    rig.publish(binding("users", BERT), settings="[settings.incoming]\nmax_attachment_bytes = 100000\n")
    rig.sim.control.inject(BERT, with_attachments("<big@fabrikam.com>", 200_192, 10_240))
    rig.drain(BERT)
    [activity] = rig.activities("<big@fabrikam.com>")
    view = rig.crm.email(activity)
    assert [a["filename"] for a in view.attachments] == ["file2.pdf"]
    assert "removed 1 attachment(s) over the size limits: file1.pdf" in view.row["description"]
    with rig.store() as store:
        [size] = [d for d in store.trail.for_message_id("<big@fabrikam.com>") if d.stage == "size"]
    assert size.result == "stripped" and size.reason_code == "attachments-stripped"


def test_oversized_messages_are_quarantined_when_the_policy_says_so(rig: Rig) -> None:
    rig.publish(binding("users", BERT), settings="[settings.incoming]\nmax_attachment_bytes = 100000\n"
                                                 'oversize_action = "quarantine"\n')
    rig.sim.control.inject(BERT, with_attachments("<big@fabrikam.com>", 200_192))
    rig.drain(BERT)
    assert rig.activities("<big@fabrikam.com>") == []
    with rig.store() as store:
        [entry] = store.quarantine.entries(mailbox=BERT)
    assert entry.stage == "size" and entry.reason_code == "attachment-too-large"
    assert entry.mime is not None and b"file1.pdf" in entry.mime
    assert rig.sim.control.messages(BERT)[0].categories == ["Undeliverable"]


FORWARD_RULE = {"rules": [{"mailbox": FRANK, "name": "to CRM", "forward_as_attachment_to": [FORWARD]}]}


def test_a_forwarded_message_is_delivered_for_the_user_who_forwarded_it(rig: Rig) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD, "delete_after_processing = true"))
    rig.sim.control.seed(FORWARD_RULE)
    rig.sim.control.inject(FRANK, from_=CAROL, to=[FRANK], subject="Quote please", body="How much?",
                           message_id="<quote@fabrikam.com>")
    rig.sim.control.inject(FRANK, from_=CAROL, to=[FRANK], subject="Out of office", body="Away",
                           message_id="<away@fabrikam.com>", headers=[("Auto-Submitted", "auto-replied")])
    [_, _] = rig.sim.control.messages(FORWARD)
    rig.drain(FORWARD)
    [activity] = rig.activities("<quote@fabrikam.com>")
    view = rig.crm.email(activity)
    assert view.row["subject"] == "Quote please"
    assert [p.address for p in view.party_list(ParticipationType.TO_RECIPIENT)] == [FRANK]
    assert rig.activities("<away@fabrikam.com>") == [], "the original, not the wrapper, is screened"
    assert rig.sim.control.messages(FORWARD) == [], "both wrappers were deleted after processing"
    assert len(rig.sim.control.messages(FORWARD, "deleteditems")) == 2
    with rig.store() as store:
        decisions = store.trail.for_message_id("<quote@fabrikam.com>")
        trail = {(d.stage, d.result, d.reason_code) for d in decisions}
        assert ("unwrap", "unwrapped", None) in trail and ("acknowledge", "acknowledged", None) in trail
        [away] = store.ledger.find_by_message_id("<away@fabrikam.com>")
        assert away.stage is LedgerStage.SCREENED


def test_a_wrapper_nobody_can_be_found_for_is_quarantined(rig: Rig) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD))
    rule = {"mailbox": ALICE, "name": "to CRM", "forward_as_attachment_to": [FORWARD]}
    rig.sim.control.seed({"rules": [rule]})
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Hi", body="hi",
                           message_id="<hi@fabrikam.com>")
    rig.sim.control.inject(FORWARD, from_=CAROL, to=[FORWARD], subject="Direct", body="not forwarded",
                           message_id="<direct@fabrikam.com>")
    rig.drain(FORWARD)
    with rig.store() as store:
        codes = {e.reason_code for e in store.quarantine.entries(mailbox=FORWARD)}
    assert codes == {"no-forward-mailbox-user", "no-forwarded-message"}
    assert all(m.categories == ["Undeliverable"] for m in rig.sim.control.messages(FORWARD))


LOGGING = binding("queues", LOGBOOK, '[queues.shared_logging]\nstorage_folder = "Inbox/Logged"')


def test_the_shared_logging_mailbox_links_everyone_and_keeps_a_link_to_the_stored_message(rig: Rig) -> None:
    rig.publish(LOGGING)
    rig.sim.control.inject(LOGBOOK, from_=ALICE, to=[CAROL], cc=[BERT], subject="Our offer", body="Attached",
                           message_id="<offer@contoso.com>")
    rig.sim.control.inject(LOGBOOK, from_=CAROL, to=[ALICE], subject="Re: Our offer", body="Thanks",
                           message_id="<reply@fabrikam.com>", in_reply_to="<offer@contoso.com>")
    rig.sim.control.inject(LOGBOOK, from_=CAROL, to=[ALICE], subject="Junk", body="spam",
                           folder="junkemail", message_id="<junk@fabrikam.com>")
    rig.drain(LOGBOOK)
    [offer] = rig.activities("<offer@contoso.com>")
    parties = {(mask, p.address, p.record.logical_name if p.record else None)
               for mask, p in rig.crm.email(offer).parties}
    assert {(ParticipationType.SENDER, ALICE, "systemuser"),
            (ParticipationType.TO_RECIPIENT, CAROL, "contact"),
            (ParticipationType.CC_RECIPIENT, BERT, "systemuser")} <= parties
    [reply] = rig.activities("<reply@fabrikam.com>")
    assert rig.crm.email(reply).row["parentactivityid"] == offer
    assert rig.activities("<junk@fabrikam.com>") == [], "Junk Email is never processed"
    assert rig.sim.control.messages(LOGBOOK) == []
    stored = {m.message_id: m for m in rig.sim.control.messages(LOGBOOK, "Inbox/Logged")}
    assert set(stored) == {"<offer@contoso.com>", "<reply@fabrikam.com>"}
    with rig.store() as store:
        [ack] = [d for d in store.trail.for_message_id("<offer@contoso.com>") if d.stage == "acknowledge"]
        [entry] = store.ledger.find_by_message_id("<offer@contoso.com>")
    assert entry.item_id == stored["<offer@contoso.com>"].id
    assert ack.activity_id == offer and "/owa/?ItemID=" in (ack.text or "")
