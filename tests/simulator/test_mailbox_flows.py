"""Reading, marking, moving, syncing and subscribing through exchangelib, asserting on the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from exchangelib import ExtendedProperty, Message
from exchangelib.errors import UnauthorizedError

from router.simulator import Controller
from router.simulator import ids as sim_ids
from tests.support.ews_simulator import (
    ALICE,
    BOB,
    NTLM,
    make_account,
    make_autodiscover_account,
    make_oauth_account,
)

pytestmark = pytest.mark.usefixtures("exchangelib_trust")


class DeliveryTime(ExtendedProperty):  # type: ignore[misc]
    """PR_MESSAGE_DELIVERY_TIME, the MAPI property clients sort received mail by."""

    property_tag = 0x0E06
    property_type = "SystemTime"


@pytest.fixture(autouse=True)
def _delivery_time_field() -> Iterator[None]:
    Message.register("delivery_time", DeliveryTime)
    yield
    Message.deregister("delivery_time")


def _inject(sim: Controller, n: int) -> list[str]:
    return [
        sim.control.inject(
            ALICE,
            from_=f"c{i}@fabrikam.com",
            subject=f"msg {i}",
            body=f"body {i}",
            message_id=f"<m{i}@fabrikam.com>",
        )
        for i in range(n)
    ]


def test_fetch_mime_mark_read_and_categorise(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 3)
    account = make_account(ews_simulator, ALICE)
    items = list(
        account.inbox.filter(is_read=False)
        .order_by("subject")
        .only("subject", "mime_content", "message_id", "sender")
    )
    assert [i.subject for i in items] == ["msg 0", "msg 1", "msg 2"]
    assert b"Message-ID: <m0@fabrikam.com>" in items[0].mime_content
    first = items[0]
    old_key = first.changekey
    first.is_read = True
    first.save(update_fields=["is_read"])
    first.categories = ["CRM"]
    first.save(update_fields=["categories"])
    assert first.changekey != old_key
    stored = {m.subject: m for m in ews_simulator.control.messages(ALICE)}
    assert stored["msg 0"].is_read and stored["msg 0"].categories == ["CRM"]
    assert not stored["msg 1"].is_read


def test_find_item_pages_in_batches(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 7)
    account = make_account(ews_simulator, ALICE)
    qs = account.inbox.all().order_by("-datetime_received").only("subject")
    qs.page_size = 3
    assert len(list(qs)) == 7
    finds = [r for r in ews_simulator.control.requests() if r.operation == "FindItem"]
    assert len(finds) == 3


def test_fetch_in_batch_keeps_order_and_reports_unknown_ids(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 2)
    account = make_account(ews_simulator, ALICE)
    ids = [(i.id, i.changekey) for i in account.inbox.all().only("id", "changekey")]
    fake = (sim_ids.encode(sim_ids.ObjectId(sim_ids.IdKind.ITEM, uuid.uuid4().bytes)), None)
    results = list(account.fetch([ids[0], fake, ids[1]], only_fields=["subject", "delivery_time"]))
    assert isinstance(results[0], Message) and isinstance(results[2], Message)
    assert type(results[1]).__name__ == "ErrorItemNotFound"
    assert results[0].delivery_time is not None


def test_move_and_delete(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 2)
    account = make_account(ews_simulator, ALICE)
    first, second = account.inbox.all().order_by("subject")
    first.move(account.trash)
    second.delete()
    assert [m.subject for m in ews_simulator.control.messages(ALICE, "deleteditems")] == ["msg 0"]
    assert ews_simulator.control.messages(ALICE) == []


def test_sync_items_reports_creates_updates_and_deletes(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 3)
    account = make_account(ews_simulator, ALICE)
    first = [change for change in account.inbox.sync_items(only_fields=["subject"])]
    assert sorted(c[0] for c in first) == ["create"] * 3
    item = account.inbox.all().order_by("subject")[0]
    item.is_read = True
    item.save(update_fields=["is_read"])
    ews_simulator.control.inject(ALICE, from_="late@fabrikam.com", subject="late")
    account.inbox.get(subject="msg 2").delete()
    kinds = sorted(c[0] for c in account.inbox.sync_items(only_fields=["subject"]))
    assert kinds == ["create", "delete", "read_flag_change"]
    assert list(account.inbox.sync_items()) == []


def test_pull_and_streaming_notifications(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE)
    with account.inbox.pull_subscription() as (sub_id, watermark):
        _inject(ews_simulator, 1)
        notes = list(account.inbox.get_events(sub_id, watermark))
        assert [type(e).__name__ for n in notes for e in n.events] == ["CreatedEvent", "NewMailEvent"]
    with account.inbox.streaming_subscription() as stream_id:
        _inject(ews_simulator, 1)
        notes = list(
            account.inbox.get_streaming_events(stream_id, connection_timeout=1, max_notifications_returned=1)
        )
        assert any(type(e).__name__ == "NewMailEvent" for n in notes for e in n.events)


def test_ntlm_handshake_is_chosen_and_verified(ews_simulator: Controller) -> None:
    account = make_account(ews_simulator, ALICE, auth_type=None)
    assert account.protocol.auth_type == NTLM
    assert account.inbox.total_count == 0
    with pytest.raises(UnauthorizedError):
        make_account(ews_simulator, BOB, auth_type=NTLM, password="wrong").inbox.total_count  # noqa: B018


def test_basic_with_a_wrong_password_is_refused(ews_simulator: Controller) -> None:
    with pytest.raises(UnauthorizedError):
        make_account(ews_simulator, ALICE, password="nope").inbox.total_count  # noqa: B018


def test_oauth_app_only_and_delegated_tokens(ews_simulator: Controller) -> None:
    _inject(ews_simulator, 1)
    app = make_oauth_account(ews_simulator, ALICE)
    assert app.inbox.total_count == 1
    record = ews_simulator.control.requests()[-1]
    assert record.impersonated and record.principal.startswith("app:")
    delegated = make_oauth_account(ews_simulator, ALICE, user_token_for=ALICE)
    assert [m.subject for m in delegated.inbox.all().only("subject")] == ["msg 0"]


def test_autodiscover_finds_the_ews_url(ews_simulator: Controller) -> None:
    account = make_autodiscover_account(ews_simulator, ALICE)
    assert account.protocol.service_endpoint == ews_simulator.url
    assert account.inbox.total_count == 0


def test_exchangelib_falls_back_to_what_an_older_build_accepts(ews_simulator: Controller) -> None:
    from router.simulator import ServerBuild, ServerConfig

    config = ServerConfig(build=ServerBuild.parse("15.0.1497.2"))
    with Controller(
        config=config,
        state_dir=ews_simulator.state_dir,
        seed={"users": [{"address": ALICE, "password": "Pa55word!"}]},
    ) as old:
        account = make_account(old, ALICE)
        assert account.inbox.total_count == 0
        assert account.version.api_version == "Exchange2013_SP1"
        assert [r.version for r in old.control.requests()][:2] == ["Exchange2016", "Exchange2015_SP1"]
