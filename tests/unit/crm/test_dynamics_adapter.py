"""The Dynamics adapter's transport: retries honouring Retry-After, error classes, OAuth, versions, TLS."""

from __future__ import annotations

import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from router.clock import FrozenClock
from router.crm.codes import EmailStatus
from router.crm.dynamics import DynamicsGateway, DynamicsSettings, NtlmCredentials, OAuthCredentials
from router.crm.embedded import EmbeddedCrm
from router.crm.facade import Behaviour, CrmFacade
from router.crm.facade.journal import DROPPED
from router.errors import ConfigError, CrmPermanentError, CrmRecordNotFoundError, CrmTransientError
from tests.support.crm import (
    SERVICE_ACCOUNT,
    Organisation,
    draft_email,
    facade_credentials,
    incoming_email,
    ntlm_settings,
    oauth_settings,
)


def _gateway(settings: DynamicsSettings, clock: FrozenClock) -> DynamicsGateway:
    return DynamicsGateway(settings, clock=clock)


def test_busy_answers_are_retried_after_the_time_the_server_asks(
    crm_facade: CrmFacade, crm_clock: FrozenClock
) -> None:
    crm_facade.faults.add(503, times=2, retry_after=7, match="WhoAmI")
    crm_facade.faults.add(429, times=1, retry_after=2.5, match="WhoAmI")
    gateway = _gateway(ntlm_settings(crm_facade), crm_clock)
    start = crm_clock.monotonic()
    try:
        assert gateway.who_am_i().user_id
    finally:
        gateway.close()
    assert crm_clock.monotonic() - start == pytest.approx(16.5)


def test_a_crm_that_stays_busy_is_a_transient_error_with_its_back_off(
    crm_facade: CrmFacade, crm_clock: FrozenClock
) -> None:
    crm_facade.faults.add(503, times=10, retry_after=400)
    gateway = _gateway(ntlm_settings(crm_facade, max_retries=2, max_back_off=60), crm_clock)
    start = crm_clock.monotonic()
    with pytest.raises(CrmTransientError) as caught:
        gateway.load_data()
    gateway.close()
    assert caught.value.back_off == 400 and "503" in str(caught.value)
    assert crm_clock.monotonic() - start == 120  # two waits, each capped at max_back_off


def test_a_dropped_connection_is_retried(crm_facade: CrmFacade, crm_clock: FrozenClock) -> None:
    crm_facade.faults.add(0, times=1, match="WhoAmI")
    gateway = _gateway(ntlm_settings(crm_facade), crm_clock)
    start = crm_clock.monotonic()
    try:
        assert gateway.who_am_i().user_id == crm_facade.crm.who_am_i(SERVICE_ACCOUNT).user_id
    finally:
        gateway.close()
    # The facade dropped the first WhoAmI without an answer; the adapter waited its first back-off
    # (no Retry-After to honour) and asked again.
    assert crm_clock.monotonic() - start == 1
    assert [served.result for served in crm_facade.journal.entries("WhoAmI")] == [DROPPED, 200]


def test_an_unreachable_crm_is_transient(crm_clock: FrozenClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = DynamicsSettings(
        base_url=f"http://127.0.0.1:{port}/contoso/api/data/v9.0",
        credentials=NtlmCredentials(SERVICE_ACCOUNT, SecretStr("x")),
        max_retries=1,
    )
    gateway = _gateway(settings, crm_clock)
    with pytest.raises(CrmTransientError, match="cannot reach the CRM"):
        gateway.check_incoming(incoming_email())
    gateway.close()


def test_wrong_credentials_are_permanent_and_never_show_the_password(
    crm_facade: CrmFacade, crm_clock: FrozenClock
) -> None:
    settings = ntlm_settings(crm_facade, credentials=NtlmCredentials(SERVICE_ACCOUNT, SecretStr("Hunter2!")))
    gateway = _gateway(settings, crm_clock)
    with pytest.raises(CrmPermanentError) as caught:
        gateway.who_am_i()
    gateway.close()
    assert "401" in str(caught.value) and "credentials" in caught.value.hint
    assert "Hunter2" not in str(caught.value) and "Hunter2" not in repr(settings)


def test_a_deleted_record_is_record_not_found(dynamics_gateway: DynamicsGateway) -> None:
    with pytest.raises(CrmRecordNotFoundError):
        dynamics_gateway.record_failed_attempt("0f0e0d0c-0b0a-0908-0706-050403020100", "x", permanent=False)


def test_an_id_that_is_no_guid_never_reaches_a_url(dynamics_gateway: DynamicsGateway) -> None:
    with pytest.raises(CrmPermanentError, match="not a valid record id"):
        dynamics_gateway.mark_sent("1) or (1", "<x@y.z>", datetime(2026, 1, 1, tzinfo=UTC))


def test_oauth_client_credentials_work_and_renew_an_expired_token(
    crm_facade: CrmFacade, crm_clock: FrozenClock, embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    gateway = _gateway(oauth_settings(crm_facade), crm_clock)
    try:
        assert gateway.who_am_i().user_id == crm_org.service.id
        crm_clock.advance(2 * 3600)
        email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com")
        assert gateway.send_email(email_id).status is EmailStatus.PENDING_SEND
    finally:
        gateway.close()


def test_a_refused_oauth_client_is_permanent_without_its_secret(
    crm_facade: CrmFacade, crm_clock: FrozenClock
) -> None:
    settings = oauth_settings(crm_facade)
    bad = OAuthCredentials(
        settings.credentials.token_url,
        "unknown-client",
        SecretStr("S3cr3t-value"),  # type: ignore[union-attr]
        resource="urn:crm",
    )
    gateway = _gateway(DynamicsSettings(base_url=settings.base_url, credentials=bad), crm_clock)
    with pytest.raises(CrmPermanentError) as caught:
        gateway.who_am_i()
    gateway.close()
    assert "token endpoint" in str(caught.value) and "S3cr3t" not in str(caught.value)


def test_the_adapter_works_against_version_8_0(
    crm_facade: CrmFacade, crm_clock: FrozenClock, embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    gateway = _gateway(ntlm_settings(crm_facade, version="8.0"), crm_clock)
    try:
        email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com")
        gateway.send_email(email_id)
        claimed = gateway.background_send(crm_org.mailbox_ids, 5)
        failed = gateway.record_failed_attempt(email_id, "ErrorServerBusy", permanent=False)
        delivered = gateway.deliver_incoming(incoming_email())
    finally:
        gateway.close()
    assert [e.email_id for e in claimed] == [email_id] and failed.attempts == 1
    assert embedded_crm.email(delivered.email_id).row["statuscode"] == EmailStatus.RECEIVED


def test_a_request_larger_than_the_crm_accepts_is_permanent(
    embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock
) -> None:
    with CrmFacade(embedded_crm, credentials=facade_credentials(), max_request_bytes=64 * 1024) as facade:
        gateway = _gateway(ntlm_settings(facade), crm_clock)
        with pytest.raises(CrmPermanentError) as caught:
            gateway.deliver_incoming(incoming_email(body="x" * 100_000))
        gateway.close()
    assert "413" in str(caught.value) and "larger" in caught.value.hint
    assert embedded_crm.emails(incoming=True) == []


@pytest.mark.parametrize(
    "base_url", ["https://crm.contoso.com/Contoso", "ftp://x/api/data/v9.0/", "https://crm/api/data/9.0/"]
)
def test_a_url_that_is_no_web_api_root_is_a_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError, match="not a Dynamics Web API URL"):
        DynamicsSettings(base_url=base_url, credentials=NtlmCredentials("a", SecretStr("b")))


class _SignInPage(BaseHTTPRequestHandler):
    """What a claims-based (AD FS) organisation answers to Windows authentication: a redirect or HTML."""

    def do_GET(self) -> None:
        if "redirect" in self.path:
            self.send_response(302)
            self.send_header("Location", "https://adfs.contoso.com/adfs/ls/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = b"<html><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def sign_in_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _SignInPage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(("prefix", "fragment"), [("redirect", "redirected"), ("html", "not JSON")])
def test_a_sign_in_page_is_a_permanent_error_suggesting_oauth(
    sign_in_server: str, crm_clock: FrozenClock, prefix: str, fragment: str
) -> None:
    settings = DynamicsSettings(
        base_url=f"{sign_in_server}/{prefix}/api/data/v9.0/",
        credentials=NtlmCredentials(SERVICE_ACCOUNT, SecretStr("x")),
    )
    gateway = _gateway(settings, crm_clock)
    with pytest.raises(CrmPermanentError, match=fragment) as caught:
        gateway.who_am_i()
    gateway.close()
    assert "OAuth" in caught.value.hint


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_ntlm_over_https_with_a_pinned_certificate(
    tmp_path: Path, embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock
) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with CrmFacade(embedded_crm, credentials=facade_credentials(), ssl_context=context) as facade:
        assert facade.url.startswith("https://")
        gateway = _gateway(ntlm_settings(facade, verify=str(cert)), crm_clock)
        try:
            assert gateway.who_am_i().user_id == crm_org.service.id
        finally:
            gateway.close()
        untrusting = _gateway(ntlm_settings(facade), crm_clock)
        with pytest.raises(CrmPermanentError, match="TLS connection") as caught:
            untrusting.who_am_i()
        untrusting.close()
    assert "CA bundle" in caught.value.hint


def test_when_the_crm_does_not_claim_the_adapter_claims_with_if_match(
    embedded_crm: EmbeddedCrm, crm_org: Organisation, crm_clock: FrozenClock
) -> None:
    pending = set()
    for n in range(10):
        email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com", subject=f"n{n}")
        embedded_crm.send_email(None, email_id)
        pending.add(email_id)
    behaviour = Behaviour(background_send_claims=False)
    with CrmFacade(embedded_crm, credentials=facade_credentials(), behaviour=behaviour) as facade:
        workers = [_gateway(ntlm_settings(facade), crm_clock) for _ in range(2)]
        claimed: list[list[str]] = [[], []]
        barrier = threading.Barrier(2)

        def work(index: int) -> None:
            barrier.wait()
            while batch := workers[index].background_send(crm_org.mailbox_ids, 3):
                claimed[index] += [e.email_id for e in batch]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.close()
    together = claimed[0] + claimed[1]
    assert len(together) == len(set(together)) and set(together) == pending
    assert {embedded_crm.email(i).row["statuscode"] for i in pending} == {EmailStatus.SENDING}


def test_load_data_follows_next_links(
    crm_facade: CrmFacade, crm_clock: FrozenClock, crm_org: Organisation
) -> None:
    gateway = _gateway(ntlm_settings(crm_facade, page_size=1), crm_clock)
    try:
        boxes = gateway.load_data()
    finally:
        gateway.close()
    assert [b.mailbox_id for b in boxes] == list(crm_org.mailboxes.values())


def test_stuck_sending_is_found_across_many_mailboxes(
    dynamics_gateway: DynamicsGateway,
    embedded_crm: EmbeddedCrm,
    crm_org: Organisation,
    crm_clock: FrozenClock,
) -> None:
    email_id = draft_email(embedded_crm, crm_org.sales, "carol@fabrikam.com")
    embedded_crm.send_email(None, email_id)
    dynamics_gateway.background_send(crm_org.mailbox_ids, 5)
    crm_clock.advance(3600)
    others = [str(uuid.UUID(int=n)) for n in range(1, 45)]
    assert dynamics_gateway.release_stuck_sending([*others, crm_org.mailbox("sales@contoso.com")]) == (
        email_id,
    )
