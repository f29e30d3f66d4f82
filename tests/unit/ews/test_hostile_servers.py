"""EWS against hostile servers on 127.0.0.1 (issue #14, cases 1 and 2): a server that trickles its
answer one byte at a time, one that answers an error of a hundred megabytes, one that sends an XML
bomb. Each call ends within its total deadline with a short router error, and a slow mailbox never
holds up another mailbox's first folder lookup."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from router.errors import TransientTransportError, TransportError
from router.ews import AccountFactory, ConnectionSpec, ews_errors
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB, PASSWORD
from tests.support.hostile import HostileServer, fixed, flood, trickle, wait_for, xml_bomb

GUARD_SECONDS = 120.0
"""How long a test waits for a call that should end by itself; only reached when the router hangs."""


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    return tmp_path / "tls"


def hostile_spec(server: HostileServer, mailbox: str = ALICE, **changes: Any) -> ConnectionSpec:
    assert server.tls is not None
    settings: dict[str, Any] = {
        "ews_url": f"{server.url}/EWS/Exchange.asmx", "username": mailbox, "password": SecretStr(PASSWORD),
        "ca_bundle": server.tls.ca_file, "server_version": "15.1.2507.6", "timeout": 2.0,
        "connect_timeout": 2.0}
    return ConnectionSpec(mailbox, **{**settings, **changes})


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Run ``call`` on a daemon thread; its result or exception lands in the returned dict."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # The test inspects whatever the call raised.
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def inbox_of(factory: AccountFactory, spec: ConnectionSpec) -> Callable[[], object]:
    def call() -> object:
        account = factory.account(spec)
        with ews_errors(mailbox=spec.mailbox):
            return account.inbox
    return call


def finished_error(thread: threading.Thread, outcome: dict[str, object]) -> BaseException:
    thread.join(GUARD_SECONDS)
    assert not thread.is_alive(), "the EWS call hung past its total deadline"
    error = outcome.get("error")
    assert isinstance(error, BaseException), outcome
    return error


@pytest.fixture
def trickling(tls_dir: Path) -> Iterator[HostileServer]:
    with HostileServer(trickle(interval=0.5), tls_dir=tls_dir) as server:
        yield server


def test_a_trickling_server_is_cut_off_at_the_total_deadline(trickling: HostileServer,
                                                             factory: AccountFactory) -> None:
    # Each byte arrives well within the 2 s read timeout, so only a total deadline (2 + 2 s) ends it.
    error = finished_error(*in_thread(inbox_of(factory, hostile_spec(trickling))))
    assert isinstance(error, TransientTransportError), repr(error)
    assert error.code in ("Timeout", "ErrorTimeoutExpired"), error
    assert "total deadline of 4 s" in error.message
    assert error.mailbox == ALICE


def test_a_slow_mailbox_does_not_hold_up_another_mailboxs_folder_lookup(
        trickling: HostileServer, factory: AccountFactory, ews_simulator: Controller) -> None:
    slow = hostile_spec(trickling, timeout=60.0)
    slow_thread, slow_outcome = in_thread(inbox_of(factory, slow))
    assert wait_for(lambda: bool(trickling.requests)), "the slow mailbox never reached its server"
    fast = ConnectionSpec(BOB, ews_url=ews_simulator.url, username=BOB, password=SecretStr(PASSWORD),
                          ca_bundle=ews_simulator.ca_file)
    fast_thread, fast_outcome = in_thread(inbox_of(factory, fast))
    fast_thread.join(GUARD_SECONDS)
    # Bob's Inbox came back while Alice's first lookup is still waiting on her trickling server.
    assert slow_thread.is_alive() and not fast_thread.is_alive()
    assert "error" not in fast_outcome and fast_outcome["result"] is not None
    trickling.stop()
    assert isinstance(finished_error(slow_thread, slow_outcome), TransportError)


def test_a_hundred_megabyte_error_answer_is_not_read_kept_or_repeated(tls_dir: Path,
                                                                     factory: AccountFactory) -> None:
    total = 100 * 1024 * 1024
    with HostileServer(flood(total, status=500), tls_dir=tls_dir) as server:
        spec = hostile_spec(server, max_response_bytes=1024 * 1024, timeout=30.0)
        error = finished_error(*in_thread(inbox_of(factory, spec)))
        assert isinstance(error, TransientTransportError), repr(error)
        assert error.code == "ResponseTooLarge" and "max_response_mb" in error.hint
        assert len(str(error)) < 8192
        assert server.sent < total // 4, f"the router read {server.sent} bytes of an oversized answer"


def test_a_declared_oversized_answer_is_refused_before_reading(tls_dir: Path,
                                                               factory: AccountFactory) -> None:
    total = 100 * 1024 * 1024
    with HostileServer(flood(total, status=200, declare_length=True), tls_dir=tls_dir) as server:
        spec = hostile_spec(server, max_response_bytes=1024 * 1024, timeout=30.0)
        error = finished_error(*in_thread(inbox_of(factory, spec)))
        assert isinstance(error, TransportError) and error.code == "ResponseTooLarge"
        assert "declares 104857600 bytes" in error.message


def test_an_xml_bomb_is_a_short_transport_error(tls_dir: Path, factory: AccountFactory) -> None:
    with HostileServer(fixed(xml_bomb()), tls_dir=tls_dir) as server:
        error = finished_error(*in_thread(inbox_of(factory, hostile_spec(server))))
        assert isinstance(error, TransportError), repr(error)
        assert "lollol" * 100 not in str(error) and len(str(error)) < 8192


def test_a_tls_protocol_failure_does_not_blame_the_certificate(factory: AccountFactory) -> None:
    # A port that speaks no TLS gives OpenSSL's WRONG_VERSION_NUMBER, as a TLS-version mismatch would.
    with HostileServer(fixed(b"<html/>", content_type="text/html")) as plain:
        spec = ConnectionSpec(ALICE, ews_url=plain.url.replace("http://", "https://") + "/EWS/Exchange.asmx",
                              username=ALICE, password=SecretStr(PASSWORD), server_version="15.1.2507.6",
                              timeout=5.0, connect_timeout=5.0)
        error = finished_error(*in_thread(inbox_of(factory, spec)))
    assert isinstance(error, TransportError) and error.code == "TlsError", repr(error)
    assert "TLS version" in error.hint and "certificate is fine" in error.hint
    assert "CA bundle" not in error.hint
