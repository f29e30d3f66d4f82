"""``check_and_deliver_incoming``: a batch gets the answers of checking and delivering each message alone.

The batch is compared with the same messages offered one at a time (``check_incoming`` then, when
wanted, ``deliver_incoming``) to a twin CRM seeded the same way: every reason code, creation, correlation,
regarding record and notification must agree, and the call journal must say the same calls were made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from router.crm.codes import ReasonCode
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.embedded import journal as crm_journal
from router.crm.gateway import Attachment, CrmGateway, IncomingAnswer, IncomingEmail
from router.crm.incoming_batch import check_and_deliver_each
from router.crm.message_ids import is_derived
from router.errors import CrmPermanentError
from tests.contract.conftest import Target
from tests.support.crm import SERVICE_ACCOUNT, draft_email, incoming_email, seed_organisation


def _batch(target: Target) -> list[IncomingEmail]:
    """Messages that exercise every path, including ones that depend on an earlier message of the batch."""
    sent = draft_email(target.crm, target.org.alice, "carol@fabrikam.com", regarding=target.org.fabrikam)
    target.crm.send_email(None, sent)
    target.crm.mark_sent(None, sent, "<quote42@contoso.com>", target.clock.now())
    big = Attachment("big.bin", "application/octet-stream", b"x" * 200)
    return [
        incoming_email(message_id="<b1@fabrikam.com>", subject="Order", cc=("dave@litware.com",)),
        incoming_email(message_id="<b2@fabrikam.com>", sender="not an address"),
        incoming_email(message_id="<b3@fabrikam.com>", to=("nobody@example.org",),
                       receiving_address="nobody@example.org"),
        incoming_email(message_id="<b1@fabrikam.com>", subject="Order", cc=("dave@litware.com",),
                       receiving_address="bert@contoso.com"),
        incoming_email(message_id="<b4@fabrikam.com>", subject="Re: Order", in_reply_to="<b1@fabrikam.com>"),
        incoming_email(message_id="<b5@fabrikam.com>", subject="Re: x", in_reply_to="<quote42@contoso.com>"),
        incoming_email(message_id="<b6@fabrikam.com>", sender="stranger@example.org",
                       to=("bert@contoso.com",), attachments=(big, Attachment("a.txt", "text/plain", b"hi"))),
        incoming_email(message_id="", subject="No id"),
        incoming_email(message_id="<b7@fabrikam.com>", sender="stranger@example.org"),
    ]


def _one_at_a_time(gateway: CrmGateway, emails: Sequence[IncomingEmail]) -> tuple[IncomingAnswer, ...]:
    return check_and_deliver_each(emails, gateway.check_incoming, gateway.deliver_incoming)


def _comparable(answer: IncomingAnswer) -> tuple[object, ...]:
    d = answer.delivered
    return (answer.check, answer.error,
            None if d is None else (d.created_new, d.correlation_method, d.notifications,
                                    d.regarding.name if d.regarding else None, d.parent_email_id is not None))


def test_a_batch_answers_as_the_messages_would_one_at_a_time(target: Target, tmp_path: Path) -> None:
    target.crm.update_organization(maxuploadfilesize=100)
    emails = _batch(target)
    answers = target.gateway.check_and_deliver_incoming(emails)

    with EmbeddedCrm(tmp_path / "twin.sqlite", clock=target.clock) as twin_crm:
        twin = Target(target.kind, EmbeddedGateway(twin_crm, SERVICE_ACCOUNT), twin_crm,
                      seed_organisation(twin_crm), target.clock, None)
        twin_crm.update_organization(maxuploadfilesize=100)
        expected = _one_at_a_time(twin.gateway, _batch(twin))
        with twin_crm.reading() as conn:
            twin_calls = [(e.operation, e.message_id, e.outcome) for e in crm_journal.entries(conn)]

    assert [_comparable(a) for a in answers] == [_comparable(e) for e in expected]
    reasons = [a.check.reason if a.check else None for a in answers]
    assert reasons[:4] == [ReasonCode.SENDER_MATCH, ReasonCode.INVALID_SENDER, ReasonCode.NO_RECIPIENT_MATCH,
                           ReasonCode.DUPLICATE]
    assert answers[3].delivered is not None and answers[0].delivered is not None
    assert answers[3].delivered.email_id == answers[0].delivered.email_id  # the second copy found the first
    reply = answers[4].delivered
    assert reply is not None and reply.parent_email_id == answers[0].delivered.email_id
    with target.crm.reading() as conn:
        calls = [(e.operation, e.message_id, e.outcome) for e in crm_journal.entries(conn)]
    assert calls == twin_calls, "every Check and Deliver is journalled as if made alone"
    derived = answers[7].delivered
    assert derived is not None and is_derived(target.crm.email(derived.email_id).row["messageid"])


def test_a_message_the_crm_refuses_is_its_answer_and_the_batch_goes_on(target: Target) -> None:
    emails = [incoming_email(message_id=f"<r{n}@fabrikam.com>") for n in range(3)]
    if target.facade is not None:
        target.facade.faults.add(400, match="DeliverIncomingEmail", code="0x80040203", message="refused body")
    else:  # The database itself refuses this one message (as a constraint would).
        with target.crm.writing() as conn:
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON activityparty "
                                 "WHEN NEW.addressused = 'poison@example.org' "
                                 "BEGIN SELECT RAISE(ABORT, 'this party is refused'); END")
        emails[0] = incoming_email(message_id="<r0@fabrikam.com>", cc=("poison@example.org",))
    answers = target.gateway.check_and_deliver_incoming(emails)
    assert len(answers) == 3
    assert isinstance(answers[0].error, CrmPermanentError) and answers[0].delivered is None
    assert all(a.error is None and a.delivered is not None and a.delivered.created_new for a in answers[1:])
    assert len(target.crm.emails(incoming=True)) == 2
