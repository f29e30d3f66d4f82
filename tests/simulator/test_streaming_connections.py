"""GetStreamingEvents: many subscriptions share one connection; an account's open connections are capped."""

from __future__ import annotations

import time

import pytest
import requests
from exchangelib.services import GetStreamingEvents

from router.simulator import Controller
from tests.simulator import raw
from tests.support.ews_simulator import ALICE, PASSWORD, make_account

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
        next(held.iter_content(chunk_size=64))  # the stream is open (its first body is on the way)
        refused = raw.post(ews_simulator, _get_streaming_events(second_sub), user=ALICE)
        assert raw.codes(refused) == ["ErrorExceededConnectionCount"]
        held.close()
    deadline = time.monotonic() + 15
    # A stream's answer is several SOAP bodies in a row: look for the codes in its bytes.
    while b"ErrorExceededConnectionCount" in raw.post(ews_simulator, _get_streaming_events(second_sub),
                                                      user=ALICE).content:
        assert time.monotonic() < deadline, "once the first connection ends the account may stream again"
        time.sleep(0.2)
