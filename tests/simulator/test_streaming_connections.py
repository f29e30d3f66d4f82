"""GetStreamingEvents: many subscriptions share one connection; an account's open connections are capped."""

from __future__ import annotations

import time

import pytest
import requests
from exchangelib.credentials import IMPERSONATION
from exchangelib.services import GetStreamingEvents

from router.simulator import Controller
from tests.simulator import raw
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, SVC, make_account

pytestmark = pytest.mark.usefixtures("exchangelib_trust")


def test_one_connection_carries_the_subscriptions_of_several_folders(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    inbox_sub = account.inbox.subscribe_to_streaming()
    drafts_sub = account.drafts.subscribe_to_streaming()
    try:
        ews_simulator.control.inject(ALICE, from_="c@fabrikam.com", subject="one", body="b",
                                     message_id="<one@fabrikam.com>")
        service = GetStreamingEvents(account=account)
        seen = {n.subscription_id for n in service.call(subscription_ids=[inbox_sub, drafts_sub],
                                                        connection_timeout=1) if n.events}
        assert inbox_sub in seen
    finally:
        account.inbox.unsubscribe(inbox_sub)
        account.drafts.unsubscribe(drafts_sub)


def _get_streaming_events(subscription: str) -> bytes:
    return raw.envelope(f"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{subscription}"
                        "</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout>"
                        "</m:GetStreamingEvents>")


def test_an_account_over_its_streaming_connections_gets_exceeded_connection_count(
        ews_simulator: Controller) -> None:
    ews_simulator.config.max_streaming_connections = 1
    ews_simulator.config.streaming_minute = 4.0  # the first connection stays open while the second asks
    account = make_account(ews_simulator, ALICE)
    first_sub, second_sub = account.inbox.subscribe_to_streaming(), account.inbox.subscribe_to_streaming()
    with requests.Session() as holder:
        held = holder.post(ews_simulator.url, data=_get_streaming_events(first_sub), auth=(ALICE, PASSWORD),
                           verify=str(ews_simulator.ca_file), stream=True, timeout=30,
                           headers={"Content-Type": "text/xml; charset=utf-8"})
        assert held.status_code == 200
        reader = held.iter_content(chunk_size=64)  # kept: dropping the reader closes the connection
        next(reader)  # the stream is open (its first body is on the way)
        refused = raw.post(ews_simulator, _get_streaming_events(second_sub), user=ALICE)
        assert raw.codes(refused) == ["ErrorExceededConnectionCount"]
        held.close()
    deadline = time.monotonic() + 15
    # A stream's answer is several SOAP bodies in a row: look for the codes in its bytes.
    while b"ErrorExceededConnectionCount" in raw.post(ews_simulator, _get_streaming_events(second_sub),
                                                      user=ALICE).content:
        assert time.monotonic() < deadline, "once the first connection ends the account may stream again"
        time.sleep(0.2)


def test_a_service_account_streams_the_subscriptions_it_made_impersonating_several_mailboxes(
        ews_simulator: Controller) -> None:
    alice = make_account(ews_simulator, ALICE, login=SVC, access_type=IMPERSONATION)
    bob = make_account(ews_simulator, BOB, login=SVC, access_type=IMPERSONATION)
    subs = {alice.inbox.subscribe_to_streaming(): ALICE, bob.inbox.subscribe_to_streaming(): BOB}
    ews_simulator.control.inject(BOB, from_="c@fabrikam.com", subject="to bob", body="b",
                                 message_id="<bob@fabrikam.com>")
    service = GetStreamingEvents(account=alice)  # one connection, impersonating one of the group
    seen = {subs[n.subscription_id] for n in service.call(subscription_ids=list(subs), connection_timeout=1)
            if n.events}
    assert seen == {BOB}
    # Alice herself did not make Bob's subscription: her own connection may not carry it.
    refused = raw.post(ews_simulator, _get_streaming_events(next(s for s, m in subs.items() if m == BOB)),
                       user=ALICE)
    assert raw.codes(refused) == ["ErrorSubscriptionAccessDenied"]


def test_a_failed_subscription_is_named_in_error_subscription_ids(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    good = account.inbox.subscribe_to_streaming()
    gone = account.inbox.subscribe_to_streaming()
    account.inbox.unsubscribe(gone)
    answer = raw.post(ews_simulator, raw.envelope(
        f"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{good}</t:SubscriptionId>"
        f"<t:SubscriptionId>{gone}</t:SubscriptionId></m:SubscriptionIds>"
        "<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"), user=ALICE)
    assert raw.codes(answer) == ["ErrorSubscriptionNotFound"]
    named = [e.text for e in raw.body_of(answer).iter(f"{{{raw.T}}}SubscriptionId")]
    assert named == [gone]


def test_one_connection_carries_at_most_two_hundred_subscriptions(ews_simulator: Controller) -> None:
    ews_simulator.config.max_subscriptions_per_stream = 2
    account = make_account(ews_simulator, ALICE)
    subs = [account.inbox.subscribe_to_streaming() for _ in range(3)]
    ids = "".join(f"<t:SubscriptionId>{s}</t:SubscriptionId>" for s in subs)
    answer = raw.post(ews_simulator, raw.envelope(
        f"<m:GetStreamingEvents><m:SubscriptionIds>{ids}</m:SubscriptionIds>"
        "<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"), user=ALICE)
    assert raw.codes(answer) == ["ErrorInvalidArgument"]


def test_an_event_written_to_one_connection_is_not_sent_again_on_the_next(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    sub = account.inbox.subscribe_to_streaming()

    def items_streamed() -> list[str]:
        service = GetStreamingEvents(account=account)  # one connection, to its end (one simulated minute)
        return [e.item_id.id for n in service.call(subscription_ids=[sub], connection_timeout=1)
                for e in n.events if getattr(e, "item_id", None) is not None]

    try:
        ews_simulator.control.inject(ALICE, from_="c@fabrikam.com", subject="once", body="b",
                                     message_id="<once@fabrikam.com>")
        first = items_streamed()
        assert first, "the queued event is sent on the first connection"
        assert items_streamed() == [], "Exchange does not send a delivered event again on a new connection"
        ews_simulator.control.inject(ALICE, from_="c@fabrikam.com", subject="between", body="b",
                                     message_id="<between@fabrikam.com>")
        between = items_streamed()
        assert between and not set(between) & set(first), "an event between connections waits for the next"
    finally:
        account.inbox.unsubscribe(sub)
