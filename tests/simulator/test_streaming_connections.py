"""GetStreamingEvents: many subscriptions share one connection; an account's open connections are capped."""

from __future__ import annotations

import threading

import pytest
from exchangelib import DELEGATE, Account, Configuration, Credentials, FailFast
from exchangelib.errors import ErrorExceededConnectionCount
from exchangelib.services import GetStreamingEvents

from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BASIC, PASSWORD, make_account

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


def test_an_account_over_its_streaming_connections_gets_exceeded_connection_count(
        ews_simulator: Controller) -> None:
    ews_simulator.config.max_streaming_connections = 1
    ews_simulator.config.streaming_minute = 4.0  # the first connection stays open while the second asks
    config = Configuration(service_endpoint=ews_simulator.url, credentials=Credentials(ALICE, PASSWORD),
                           auth_type=BASIC, retry_policy=FailFast(), max_connections=4)
    account = Account(ALICE, config=config, autodiscover=False, access_type=DELEGATE)
    first_sub, second_sub = account.inbox.subscribe_to_streaming(), account.inbox.subscribe_to_streaming()
    ews_simulator.control.inject(ALICE, from_="c@fabrikam.com", subject="one", body="b",
                                 message_id="<one@fabrikam.com>")
    opened = threading.Event()

    def hold() -> None:
        for _ in GetStreamingEvents(account=account).call(subscription_ids=[first_sub], connection_timeout=1):
            opened.set()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert opened.wait(10), "the first stream delivers the new mail and stays open"
        with pytest.raises(ErrorExceededConnectionCount):
            list(GetStreamingEvents(account=account).call(subscription_ids=[second_sub],
                                                          connection_timeout=1))
    finally:
        holder.join(10)
    # Once the first connection closed, the account may stream again.
    notes = list(GetStreamingEvents(account=account).call(subscription_ids=[second_sub],
                                                          connection_timeout=1))
    assert notes is not None
