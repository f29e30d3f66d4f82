"""The whole router as `email-router run` builds it, from a real published configuration, end to end.

One service (``assembly.router_service``: both pipelines, the mailbox directory from the CRM's Load
Data, mailbox health) runs on its own threads against the EWS simulator over HTTPS and the embedded CRM
in the home:

* Alice and the support queue are not bound in any profiles file: the CRM's Load Data lists them, so
  they are served with the deployment's default profiles (impersonation in, Send As out). Bob is bound
  to the delegate profile (Send On Behalf). Frank's incoming delivery method is Forward Mailbox.
* Emails composed in the CRM before the start leave at once: Alice's with Send As, Bob's on behalf.
* Carol answers Alice's email and writes to the queue: the streaming notifications wake the incoming
  lanes (their idle back-off is long), the messages become CRM activities, the answer correlated to
  the email it answers.
* A new version adds the forward mailbox: the service takes it up without a restart, and a message
  Frank's inbox rule forwards there becomes Frank's activity.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from router.clock import SystemClock
from router.config import Direction
from router.crm.codes import (
    EmailStatus,
    FilteringMethod,
    IncomingDeliveryMethod,
    MailboxTestStatus,
    OutgoingDeliveryMethod,
)
from router.crm.embedded import MailboxSettings
from router.crm.embedded.schema import email
from router.crm.gateway import RecordRef
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.service.assembly import router_service
from router.service.roster import Source
from router.service.service import Service
from tests.flows.kit import Contoso
from tests.support.crm import draft_email
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, QUEUE, SVC

pytestmark = pytest.mark.flow

CAROL, FRANK, FORWARD = "carol@fabrikam.com", "frank@contoso.com", "forward@contoso.com"
PATIENCE = 20.0
"""Longest wait for something the service does on its own threads; never reached when it works."""

SETTINGS = """
[settings]
max_threads = 4
scheduling_period_seconds = 30
config_refresh_period_seconds = 0.05
log_level = 3
"""
"""A 30 s scheduling period: an idle lane sleeps a minute and more, so only a notification wakes it
within the test; the configuration watcher looks for new versions every 50 ms."""

BOB_ON_BEHALF = f'[[users]]\naddress = "{BOB}"\noutgoing_profile = "out_delegate"\n'
FORWARD_MAILBOX = f'[[forward_mailboxes]]\naddress = "{FORWARD}"\n'


def _trail(org: Contoso, message_id: str) -> set[tuple[str, str, str]]:
    with org.store() as store:
        return {(d.mailbox, d.stage, d.result) for d in store.trail.for_message_id(message_id)}


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def activities(org: Contoso, message_id: str) -> list[str]:
    """Ids of the CRM e-mails with ``message_id``."""
    with org.crm.reading() as conn:
        found = conn.execute(select(email.c.activityid).where(func.lower(email.c.messageid) == message_id))
        return [str(row[0]) for row in found]


def user(org: Contoso, address: str) -> RecordRef:
    found = org.crm.find_user(address)
    assert found is not None, address
    return found


def email_row(org: Contoso, activity: str) -> Any:
    return org.crm.email(activity).row


@pytest.fixture
def org(contoso: Contoso) -> Contoso:
    """Contoso as the module docstring describes it, version 1 published."""
    contoso.sim.control.seed({"users": [{"address": FRANK, "name": "Frank Fisher", "password": PASSWORD},
                                        {"address": FORWARD, "name": "CRM Forward Mailbox"}],
                              "rules": [{"mailbox": FRANK, "name": "to CRM",
                                         "forward_as_attachment_to": [FORWARD]}]})
    for right, mailbox in (("full_access", ALICE), ("send_as", ALICE), ("full_access", BOB),
                           ("send_on_behalf", BOB)):
        contoso.sim.control.grant(right, mailbox, SVC)
    crm = contoso.crm
    crm.add_customer("contact", "Carol Clark", CAROL)
    crm.add_user("Frank Fisher", FRANK, "CONTOSO\\frank", settings=MailboxSettings(
        incoming=IncomingDeliveryMethod.FORWARD_MAILBOX, outgoing=OutgoingDeliveryMethod.NONE))
    crm.approve_mailbox(FRANK)
    for address in (ALICE, QUEUE, FRANK):
        owner = crm.find_user(address) or crm.resolve(address)  # A user, or the queue.
        assert owner is not None
        crm.set_filtering(owner, FilteringMethod.ALL)
    assert contoso.publish(BOB_ON_BEHALF, settings=SETTINGS) == 1
    return contoso


@pytest.fixture
def service(org: Contoso) -> Iterator[Service]:
    running = router_service(org.home, SystemClock(), Metrics())
    yield running
    running.stop(grace=PATIENCE)


def test_the_router_serves_crm_mailboxes_both_ways_and_follows_a_new_version(org: Contoso,
                                                                             service: Service) -> None:
    alice_id = draft_email(org.crm, user(org, ALICE), CAROL, subject="Offer 7")
    bob_id = draft_email(org.crm, user(org, BOB), CAROL, subject="Invoice 9")
    for email_id in (alice_id, bob_id):
        org.crm.send_email(None, email_id)

    service.start()
    lanes = {lane.key for lane in service.lanes()}
    assert lanes == {LaneKey(ALICE, Direction.INCOMING), LaneKey(ALICE, Direction.OUTGOING),
                     LaneKey(BOB, Direction.INCOMING), LaneKey(BOB, Direction.OUTGOING),
                     LaneKey(QUEUE, Direction.INCOMING), LaneKey(QUEUE, Direction.OUTGOING)}
    view = service.directory.current()
    assert view is not None
    assert {(e.mailbox, e.source) for e in view.roster.entries if e.direction is Direction.OUTGOING} >= {
        (ALICE, Source.CRM), (BOB, Source.BOTH), (QUEUE, Source.CRM)}
    eventually(lambda: service.ready().ok, "readiness")

    # Outgoing: both CRM emails leave, Alice's as herself (Send As), Bob's on his behalf.
    def sent() -> bool:
        return all(email_row(org, i)["statuscode"] == EmailStatus.SENT for i in (alice_id, bob_id))

    eventually(sent, "both emails to be sent")
    journal = {m["Subject"].split(" CRM:")[0]: m for m in (parse(e.mime) for e in org.sim.control.journal())}
    offer, invoice = journal["Offer 7"], journal["Invoice 9"]
    assert (offer["From"], offer["Sender"]) == ("Alice Adams <alice@contoso.com>", None)
    assert (invoice["From"], invoice["Sender"]) == ("Bob Brown <bob@contoso.com>",
                                                    "CRM Service <svc-crm@contoso.com>")
    assert offer["Message-ID"] == email_row(org, alice_id)["messageid"]

    # Incoming: Carol answers Alice and writes to the queue; notifications wake the sleeping lanes.
    eventually(lambda: all(lane.due_in is None or lane.due_in > PATIENCE for lane in service.lanes()
                           if lane.key.direction is Direction.INCOMING and lane.running_for is None),
               "the incoming lanes to go idle")
    org.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Re: Offer 7", body="Accepted.",
                           message_id="<re-offer@fabrikam.com>", in_reply_to=offer["Message-ID"])
    org.sim.control.inject(QUEUE, from_=CAROL, to=[QUEUE], subject="Help", body="It broke.",
                           message_id="<help@fabrikam.com>")
    answered = ("<re-offer@fabrikam.com>", "<help@fabrikam.com>")
    eventually(lambda: all(activities(org, m) for m in answered), "both messages to become CRM activities")
    [reply] = activities(org, "<re-offer@fabrikam.com>")
    assert email_row(org, reply)["parentactivityid"] == alice_id, "the answer is correlated to the offer"
    [help_request] = activities(org, "<help@fabrikam.com>")
    assert email_row(org, help_request)["subject"] == "Help"

    # A new version adds the forward mailbox; the running service serves it without a restart.
    assert org.publish(BOB_ON_BEHALF + FORWARD_MAILBOX, settings=SETTINGS) == 2
    eventually(lambda: service.config is not None and service.config.version == 2, "version 2 to be applied")
    assert LaneKey(FORWARD, Direction.INCOMING) in {lane.key for lane in service.lanes()}
    org.sim.control.inject(FRANK, from_=CAROL, to=[FRANK], subject="For Frank", body="Hello Frank.",
                           message_id="<frank@fabrikam.com>")
    eventually(lambda: bool(activities(org, "<frank@fabrikam.com>")), "the forwarded message to be delivered")
    [forwarded] = activities(org, "<frank@fabrikam.com>")
    assert email_row(org, forwarded)["subject"] == "For Frank"
    # The activity is committed in the CRM first, then recorded in the trail (a moment later).
    eventually(lambda: {(FORWARD, "unwrap", "unwrapped"), (FORWARD, "deliver", "delivered")} <= _trail(
        org, "<frank@fabrikam.com>"), "the forwarded message's decisions to be recorded")
    assert service.ready().ok and service.health().ok and not service.health().degraded
    alice = org.mailbox(ALICE)
    assert (alice["incomingemailstatus"], alice["outgoingemailstatus"]) == (MailboxTestStatus.SUCCESS,) * 2, \
        "mailbox health is written back to the CRM's mailbox record"
    assert service.stop(grace=PATIENCE)
