"""The parsing override: identical results to stock exchangelib, larger reads, and a guard that refuses
to patch code it was not written for."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import exchangelib
import pytest
import requests
from exchangelib.services.common import EWSService
from lxml import etree
from pydantic import SecretStr

from router.ews import AccountFactory, ConnectionSpec, perf

from . import canned
from .fakeews import FakeEws

SOAP_REQUEST = (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{canned.S}" '
                f'xmlns:m="{canned.M}"><s:Body><m:{{op}}/></s:Body></s:Envelope>')


@pytest.fixture
def stock() -> Iterator[None]:
    """Run a test with exchangelib's own parsing, restoring whatever was installed before."""
    was = perf.is_installed()
    perf.uninstall()
    yield
    if was:
        perf.install()


def _spec(fake: FakeEws) -> ConnectionSpec:
    return ConnectionSpec("user@example.com", ews_url=fake.ews_url, username="svc", password=SecretStr("pw"),
                          server_version="15.1.2507.6")


def _raw_parts(session: requests.Session, url: str, operation: str, parse: Any) -> tuple[bytes, bytes]:
    response = session.post(url, data=SOAP_REQUEST.replace("{op}", operation).encode())
    header, body = parse(EWSService, response)
    return etree.tostring(header), etree.tostring(body)


@pytest.mark.parametrize("operation", ["GetFolder", "FindItem", "GetItem", "SyncFolderItems", "Nonsense"])
def test_stock_and_override_split_real_responses_identically(fake: FakeEws, operation: str) -> None:
    fake.state.messages = canned.mailbox_messages(12, size=20_000)
    stock_parse, override_parse = perf._STOCK.__func__, perf._get_soap_parts
    with requests.Session() as session:
        stock_parts = _raw_parts(session, fake.ews_url, operation, stock_parse)
        override_parts = _raw_parts(session, fake.ews_url, operation, override_parse)
    assert stock_parts == override_parts
    assert b"ServerVersionInfo" in stock_parts[0]


def _change(change: str, item: Any) -> tuple[object, ...]:
    """A sync change as plain values: creates carry items, deletes ids, read-flag changes (id, flag)."""
    if change == "read_flag_change":
        item_id, is_read = item
        return change, item_id.id, is_read
    return change, item.id


def _read_mailbox(factory: AccountFactory, fake: FakeEws) -> dict[str, Any]:
    """Everything the router reads from a mailbox, through exchangelib's public API."""
    account = factory.account(_spec(fake))
    ids = [(m.item_id, None) for m in fake.state.messages]
    fields = ["mime_content", "subject", "message_id", "datetime_received", "sender"]
    fetched = [(i.id, i.changekey, i.subject, i.mime_content, i.message_id, i.datetime_received,
                i.sender.email_address) for i in account.fetch(ids=ids, only_fields=fields)]
    found = [(i.id, i.subject) for i in account.inbox.filter().only("id", "subject")]
    synced = [_change(change, item) for change, item in account.inbox.sync_items(only_fields=["id"])]
    return {"fetched": fetched, "found": found, "synced": synced, "state": account.inbox.item_sync_state}


def test_stock_and_override_give_identical_items(fake: FakeEws, factory: AccountFactory, stock: None) -> None:
    fake.state.messages = canned.mailbox_messages(10, size=8_000)
    stock_result = _read_mailbox(factory, fake)
    assert perf.install()
    override_result = _read_mailbox(factory, fake)
    assert stock_result == override_result
    assert len(stock_result["fetched"]) == 10 and stock_result["fetched"][3][3] == fake.state.messages[3].mime
    assert stock_result["fetched"][0][2] == "Order 0 & more <ok>"
    assert len(stock_result["found"]) == 10 and stock_result["state"] == "H4sIAAAAAAAEAO29B2AcSZ"
    assert stock_result["synced"][-2:] == [("delete", "GONE-1"),
                                           ("read_flag_change", fake.state.messages[0].item_id, True)]


def test_streaming_notifications_still_arrive(fake: FakeEws, factory: AccountFactory, stock: None) -> None:
    results = []
    for install in (False, True):
        if install:
            assert perf.install()
        account = factory.account(_spec(fake))
        notifications = list(account.inbox.get_streaming_events("SUB-1", connection_timeout=1))
        results.append([(n.subscription_id, [e.item_id.id for e in n.events]) for n in notifications])
    assert results[0] == results[1]
    first, second = (m.item_id for m in fake.state.messages[:2])
    assert results[0] == [("SUB-1", [first]), ("SUB-1", [second])]


class _RecordingResponse(requests.Response):
    """A real requests Response that notes the chunk size it is read with."""

    chunk_sizes: list[int]

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        self.chunk_sizes.append(chunk_size or 0)
        return super().iter_content(chunk_size=chunk_size, decode_unicode=decode_unicode)


def _recording(body: bytes) -> _RecordingResponse:
    response = _RecordingResponse()
    response.status_code, response._content, response.chunk_sizes = 200, body, []
    # As after a non-streaming request: the body is already in memory.
    response._content_consumed = True  # type: ignore[attr-defined]
    return response


def test_the_override_reads_64k_chunks_where_stock_reads_bytes() -> None:
    body = canned.get_item(canned.mailbox_messages(2))
    stock_response, override_response = _recording(body), _recording(body)
    perf._STOCK.__func__(EWSService, stock_response)
    perf._get_soap_parts(EWSService, override_response)
    assert stock_response.chunk_sizes == [1]
    assert override_response.chunk_sizes == [perf.CHUNK_SIZE]


def test_install_is_idempotent_and_uninstall_restores(stock: None) -> None:
    assert not perf.is_installed()
    assert perf.install() and perf.install()
    assert perf.is_installed()
    assert EWSService.__dict__["_get_soap_parts"].__func__ is perf._get_soap_parts
    perf.uninstall()
    assert EWSService.__dict__["_get_soap_parts"] is perf._STOCK


def test_the_installed_exchangelib_is_the_one_the_override_was_written_for() -> None:
    assert perf.incompatibility() is None
    assert perf.stock_source_digest() == perf.STOCK_SOURCE_SHA256


def test_another_exchangelib_version_is_refused_with_a_warning(
        stock: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(exchangelib, "__version__", "5.7.0")
    with caplog.at_level(logging.WARNING, logger="router.ews.perf"):
        assert not perf.install()
    assert not perf.is_installed()
    assert "exchangelib 5.7.0 is not one the override was written for" in caplog.text


def test_changed_upstream_code_is_refused(stock: None, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    def fixed_upstream(cls: type, response: Any) -> Any:
        return None, response

    monkeypatch.setattr(perf, "_STOCK", classmethod(fixed_upstream))
    with caplog.at_level(logging.WARNING, logger="router.ews.perf"):
        assert not perf.install()
    assert "not the code the override was written against" in caplog.text
    assert EWSService.__dict__["_get_soap_parts"] is not perf._get_soap_parts


def test_a_bad_response_is_still_a_soap_error() -> None:
    with pytest.raises(exchangelib.errors.SOAPError, match="Bad SOAP response"):
        perf._get_soap_parts(EWSService, _recording(b"Service Unavailable"))
    for not_soap in (b"<html><body>Service Unavailable", f'<s:Envelope xmlns:s="{canned.S}"/>'.encode()):
        with pytest.raises(exchangelib.errors.MalformedResponseError, match="No Body"):
            perf._get_soap_parts(EWSService, _recording(not_soap))
