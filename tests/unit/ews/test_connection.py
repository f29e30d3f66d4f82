"""The account factory against the fake EWS server: authentication, access modes, TLS per host,
OAuth with its own token endpoint, Autodiscover with its cache, and a retry policy that never waits."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from exchangelib.protocol import Protocol
from pydantic import SecretStr
from requests_ntlm import HttpNtlmAuth

from router.clock import FrozenClock
from router.errors import (
    AuthenticationError,
    ConfigError,
    ItemNotFoundError,
    MailboxNotFoundError,
    PermanentTransportError,
    TransientTransportError,
)
from router.ews import AccessType, AccountFactory, AuthKind, ConnectionSpec, ews_errors, translate
from router.ews.connection import is_endpoint_failure

from . import canned
from .conftest import Pki
from .fakeews import Failure, FakeEws

BOX = "user@example.com"
PW = SecretStr("pw")


def basic(fake: FakeEws, **changes: object) -> ConnectionSpec:
    settings: dict[str, object] = {"ews_url": fake.ews_url, "username": "svc@example.com", "password": PW,
                                   "server_version": "15.1.2507.6"}
    return ConnectionSpec(BOX, **{**settings, **changes})  # type: ignore[arg-type]


def test_basic_delegate_connects_without_probing(fake: FakeEws, factory: AccountFactory) -> None:
    fake.state.basic = ("svc@example.com", "pw")
    account = factory.account(basic(fake))
    assert account.inbox.total_count == 3
    first = fake.state.requests[0]
    assert fake.state.operations() == ["GetFolder", "GetFolder"]  # no auth-type or version probe
    assert first.headers["Authorization"].startswith("Basic ")
    assert b'RequestServerVersion Version="Exchange2016"' in first.body
    assert b"ExchangeImpersonation" not in first.body
    assert first.headers["X-AnchorMailbox"] == BOX


def test_impersonation_names_the_mailbox_in_every_request(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake, access_type=AccessType.IMPERSONATION))
    account.inbox.refresh()
    for request in fake.state.requests:
        impersonation = b"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>user@example.com"
        assert impersonation in request.body


def test_a_wrong_password_is_an_authentication_error(fake: FakeEws, factory: AccountFactory) -> None:
    fake.state.basic = ("svc@example.com", "the-real-password")
    account = factory.account(basic(fake))
    with pytest.raises(AuthenticationError) as caught, ews_errors(mailbox=BOX):
        account.inbox.refresh()
    assert caught.value.mailbox == BOX and "test-access" in caught.value.hint
    assert "pw" not in caught.value.message.replace("EWS", "")


def test_throttling_with_retry_after_is_returned_not_slept_on(fake: FakeEws, factory: AccountFactory,
                                                              clock: FrozenClock) -> None:
    account = factory.account(basic(fake))
    fake.state.failures.append(Failure(503, b"busy", {"Retry-After": "120"}))
    with pytest.raises(TransientTransportError) as caught, ews_errors(mailbox=BOX):
        list(account.fetch(ids=[(fake.state.messages[0].item_id, None)]))
    assert caught.value.back_off == 120.0 and caught.value.code == "ErrorServerBusy"
    assert len(fake.state.requests) == 1  # exchangelib neither slept nor retried


def test_a_throttling_fault_carries_its_back_off(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake))
    body = canned.fault("ErrorServerBusy", "The server cannot service this request right now.", 297749)
    fake.state.failures.append(Failure(500, body, {"Content-Type": "text/xml; charset=utf-8"}))
    with pytest.raises(TransientTransportError) as caught, ews_errors(mailbox=BOX):
        list(account.fetch(ids=[(fake.state.messages[0].item_id, None)]))
    assert caught.value.back_off == pytest.approx(297.749)
    assert len(fake.state.requests) == 1


def test_a_missing_mailbox_fault_is_mailbox_not_found(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake))
    body = canned.fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
    fake.state.failures.append(Failure(500, body, {"Content-Type": "text/xml; charset=utf-8"}))
    with pytest.raises(MailboxNotFoundError), ews_errors(mailbox=BOX):
        account.inbox.refresh()


def test_an_unknown_http_status_keeps_its_number(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake))
    fake.state.failures.append(Failure(404, b"<html>Not Found</html>", {"Content-Type": "text/html"}))
    with pytest.raises(PermanentTransportError) as caught, ews_errors(mailbox=BOX):
        account.inbox.refresh()
    assert caught.value.code == "HTTP404" and is_endpoint_failure(caught.value)


def test_a_missing_item_comes_back_as_a_value(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake))
    results = list(account.fetch(ids=[(fake.state.messages[0].item_id, None), ("GONE", None)]))
    assert results[0].subject == fake.state.messages[0].subject
    error = translate(results[1], mailbox=BOX, item_id="GONE")
    assert isinstance(error, ItemNotFoundError) and not error.stops_mailbox


def test_timeout_and_pool_size_come_from_the_spec(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake, timeout=7.5, connect_timeout=2.0, max_connections=3))
    assert account.protocol.TIMEOUT == (2.0, 7.5) and account.protocol.max_connections == 3
    assert account.inbox.total_count == 3
    assert account.protocol.retry_policy.fail_fast


def test_ntlm_uses_an_ntlm_session(fake: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake, auth=AuthKind.NTLM, username="EXAMPLE\\svc"))
    assert account.protocol.auth_type == "NTLM"
    session = account.protocol.create_session()
    try:
        assert isinstance(session.auth, HttpNtlmAuth) and session.auth.username == "EXAMPLE\\svc"
    finally:
        session.close()


def test_close_releases_the_connection_pools(fake: FakeEws, clock: FrozenClock) -> None:
    factory = AccountFactory(clock)
    account = factory.account(basic(fake))
    account.inbox.refresh()
    config = account.protocol.config
    assert Protocol[config][0] is account.protocol
    factory.close()
    with pytest.raises(KeyError):
        Protocol[config]


# -- TLS -------------------------------------------------------------------------------------------

def test_a_profile_ca_bundle_verifies_its_server(fake_tls: FakeEws, pki_a: Pki,
                                                 factory: AccountFactory) -> None:
    account = factory.account(basic(fake_tls, ca_bundle=pki_a.ca_file))
    assert account.inbox.total_count == 3


def test_an_untrusted_server_is_a_permanent_tls_error(fake_tls: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake_tls))
    with pytest.raises(PermanentTransportError) as caught, ews_errors(mailbox=BOX):
        account.inbox.refresh()
    assert caught.value.code == "TlsError" and "CA bundle" in caught.value.hint


def test_verification_can_be_turned_off_per_host(fake_tls: FakeEws, factory: AccountFactory) -> None:
    account = factory.account(basic(fake_tls, tls_verify=False))
    assert account.inbox.total_count == 3


def test_two_servers_with_two_cas_in_one_process(fake_tls: FakeEws, fake_tls_b: FakeEws, pki_a: Pki,
                                                 pki_b: Pki, factory: AccountFactory) -> None:
    first = factory.account(basic(fake_tls, ca_bundle=pki_a.ca_file))
    second = factory.account(ConnectionSpec("other@example.org", ews_url=fake_tls_b.ews_url, username="svc@x",
                                            password=PW, server_version="15.1.2507.6",
                                            ca_bundle=pki_b.ca_file))
    assert first.inbox.total_count == 3 and second.inbox.total_count == 3
    assert first.protocol is not second.protocol


def test_the_wrong_ca_is_refused(fake_tls_b: FakeEws, pki_a: Pki, factory: AccountFactory) -> None:
    account = factory.account(basic(fake_tls_b, ca_bundle=pki_a.ca_file))
    with pytest.raises(PermanentTransportError) as caught, ews_errors(mailbox=BOX):
        account.inbox.refresh()
    assert caught.value.code == "TlsError"


def test_one_factory_refuses_two_tls_policies_for_one_host(fake_tls: FakeEws, pki_a: Pki,
                                                           factory: AccountFactory) -> None:
    factory.account(basic(fake_tls, ca_bundle=pki_a.ca_file))
    with pytest.raises(ConfigError, match=r"verify the server .* differently"):
        factory.account(ConnectionSpec("b@example.com", ews_url=fake_tls.ews_url, username="u@x",
                                       password=PW))


# -- OAuth -----------------------------------------------------------------------------------------

def oauth(fake: FakeEws, pki: Pki, secret: str = "s3cret") -> ConnectionSpec:
    return ConnectionSpec(BOX, ews_url=fake.ews_url, auth=AuthKind.OAUTH, oauth_client_id="app-1",
                          oauth_client_secret=SecretStr(secret), oauth_token_endpoint=fake.token_url,
                          oauth_scope=("https://mail.example.com/.default",), ca_bundle=pki.ca_file,
                          server_version="15.1.2507.6")


def test_oauth_fetches_a_token_from_the_profile_endpoint(fake_tls: FakeEws, pki_a: Pki,
                                                         factory: AccountFactory) -> None:
    account = factory.account(oauth(fake_tls, pki_a))
    assert account.inbox.total_count == 3
    token_request, ews_request = fake_tls.state.requests[0], fake_tls.state.requests[1]
    form = {k: v[0] for k, v in parse_qs(token_request.body.decode()).items()}
    assert (form["grant_type"], form["client_id"], form["scope"]) == (
        "client_credentials", "app-1", "https://mail.example.com/.default")
    assert ews_request.headers["Authorization"] == "Bearer tok-app-1"
    assert ews_request.headers["X-AnchorMailbox"] == BOX
    assert b"<t:PrimarySmtpAddress>user@example.com</t:PrimarySmtpAddress>" in ews_request.body


def test_oauth_with_a_wrong_secret_is_an_authentication_error(fake_tls: FakeEws, pki_a: Pki,
                                                              factory: AccountFactory) -> None:
    account = factory.account(oauth(fake_tls, pki_a, secret="wrong"))
    with pytest.raises(AuthenticationError) as caught, ews_errors(mailbox=BOX):
        account.inbox.refresh()
    assert "wrong" not in str(caught.value)


# -- Autodiscover ----------------------------------------------------------------------------------

def discovering(fake: FakeEws, **changes: object) -> ConnectionSpec:
    settings: dict[str, object] = {"autodiscover": True, "autodiscover_url": fake.autodiscover_url,
                                   "username": "svc@example.com", "password": PW}
    return ConnectionSpec(BOX, **{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture
def discovered(fake: FakeEws, factory: AccountFactory) -> Iterator[ConnectionSpec]:
    spec = discovering(fake)
    account = factory.account(spec)
    assert account.protocol.service_endpoint == fake.ews_url
    yield spec


def test_autodiscover_finds_the_ews_url_and_version(fake: FakeEws, factory: AccountFactory,
                                                    discovered: ConnectionSpec) -> None:
    account = factory.account(discovered)
    assert account.version.api_version == "Exchange2016"
    assert account.inbox.total_count == 3
    assert fake.state.operations() == ["GetUserSettingsRequestMessage", "GetFolder", "GetFolder"]


def test_autodiscover_results_are_cached_until_the_endpoint_fails(fake: FakeEws, factory: AccountFactory,
                                                                 discovered: ConnectionSpec) -> None:
    factory.account(discovered)
    assert fake.state.operations() == ["GetUserSettingsRequestMessage"]
    auth_failure = AuthenticationError("401", code="HTTP401")
    assert not factory.endpoint_failed(discovered, auth_failure)
    gone = TransientTransportError("refused", code="ConnectionError")
    assert factory.endpoint_failed(discovered, gone)
    factory.account(discovered)
    assert fake.state.operations() == ["GetUserSettingsRequestMessage"] * 2


def test_autodiscover_results_expire(fake: FakeEws, factory: AccountFactory, clock: FrozenClock,
                                     discovered: ConnectionSpec) -> None:
    clock.advance(24 * 3600)
    factory.account(discovered)
    assert fake.state.operations() == ["GetUserSettingsRequestMessage"] * 2


def test_autodiscover_follows_an_address_redirect(fake: FakeEws, factory: AccountFactory) -> None:
    fake.state.redirect_address = "real.user@example.com"
    account = factory.account(discovering(fake))
    assert account.primary_smtp_address == "real.user@example.com"
    assert fake.state.operations() == ["GetUserSettingsRequestMessage"] * 2


def test_autodiscover_of_an_unknown_user_is_mailbox_not_found(fake: FakeEws, factory: AccountFactory) -> None:
    fake.state.autodiscover_error = "InvalidUser"
    with pytest.raises(MailboxNotFoundError) as caught:
        factory.account(discovering(fake))
    assert caught.value.mailbox == BOX


def test_endpoint_failures_of_configured_urls_change_nothing(fake: FakeEws, factory: AccountFactory) -> None:
    spec = basic(fake)
    assert not factory.endpoint_failed(spec)
