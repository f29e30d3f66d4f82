"""The account factory against the EWS simulator over HTTPS: every authentication and access mode,
Autodiscover, the errors Exchange gives when rights are missing, and faults that must not be retried
inside exchangelib."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from router.errors import (
    AccessDeniedError,
    AuthenticationError,
    MailboxNotFoundError,
    TransientTransportError,
)
from router.ews import AccessType, AccountFactory, AuthKind, ConnectionSpec, ews_errors, perf
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, APP_ID, APP_SECRET, BOB, PASSWORD, QUEUE, SVC


def spec(sim: Controller, mailbox: str, **changes: Any) -> ConnectionSpec:
    """Basic authentication as the mailbox's own user, verifying TLS against the simulator's CA."""
    settings: dict[str, Any] = {"ews_url": sim.url, "username": mailbox, "password": SecretStr(PASSWORD),
                                "ca_bundle": sim.ca_file}
    return ConnectionSpec(mailbox, **{**settings, **changes})


def subjects(factory: AccountFactory, connection: ConnectionSpec) -> list[str]:
    account = factory.account(connection)
    with ews_errors(mailbox=connection.mailbox):
        return sorted(item.subject for item in account.inbox.all().only("subject"))


@pytest.fixture
def mail(ews_simulator: Controller) -> Controller:
    """The simulator with one message in Alice's Inbox and one in the queue's."""
    ews_simulator.control.inject(ALICE, from_=BOB, subject="for alice", body="hello")
    ews_simulator.control.inject(QUEUE, from_=BOB, subject="for the queue", body="hello")
    return ews_simulator


def test_basic_on_the_users_own_mailbox(mail: Controller, factory: AccountFactory) -> None:
    assert subjects(factory, spec(mail, ALICE)) == ["for alice"]


def test_basic_with_a_version_hint_skips_the_probe(mail: Controller, factory: AccountFactory) -> None:
    before = len(mail.control.requests())
    assert subjects(factory, spec(mail, ALICE, server_version="15.2.1544.4")) == ["for alice"]
    operations = [r.operation for r in mail.control.requests()[before:]]
    assert "ConvertId" not in operations


def test_ntlm_on_the_users_own_mailbox(mail: Controller, factory: AccountFactory) -> None:
    assert subjects(factory, spec(mail, ALICE, auth=AuthKind.NTLM)) == ["for alice"]


def test_a_service_account_with_delegate_access(mail: Controller, factory: AccountFactory) -> None:
    assert subjects(factory, spec(mail, QUEUE, username=SVC)) == ["for the queue"]


def test_delegate_access_without_rights_is_access_denied(mail: Controller, factory: AccountFactory) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        subjects(factory, spec(mail, ALICE, username=BOB))
    assert caught.value.mailbox == ALICE and "FullAccess" in caught.value.hint


def test_impersonation_by_a_service_account(mail: Controller, factory: AccountFactory) -> None:
    connection = spec(mail, ALICE, username=SVC, access_type=AccessType.IMPERSONATION)
    assert subjects(factory, connection) == ["for alice"]
    last = mail.control.requests()[-1]
    assert (last.principal, last.acting, last.impersonated) == (SVC, ALICE, True)


def test_impersonation_without_the_role_is_access_denied(mail: Controller, factory: AccountFactory) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        subjects(factory, spec(mail, ALICE, username=BOB, access_type=AccessType.IMPERSONATION))
    assert caught.value.code == "ErrorImpersonateUserDenied"


def oauth(sim: Controller, mailbox: str, secret: str = APP_SECRET) -> ConnectionSpec:
    return ConnectionSpec(mailbox, ews_url=sim.url, auth=AuthKind.OAUTH, oauth_client_id=APP_ID,
                          oauth_client_secret=SecretStr(secret), oauth_token_endpoint=sim.token_url,
                          access_type=AccessType.IMPERSONATION, ca_bundle=sim.ca_file)


def test_oauth_app_only_with_the_simulators_token_endpoint(mail: Controller, factory: AccountFactory) -> None:
    assert subjects(factory, oauth(mail, ALICE)) == ["for alice"]


def test_oauth_with_a_wrong_secret_is_an_authentication_error(mail: Controller,
                                                              factory: AccountFactory) -> None:
    with pytest.raises(AuthenticationError) as caught:
        subjects(factory, oauth(mail, ALICE, secret="not-the-secret"))
    assert "not-the-secret" not in str(caught.value)


def test_a_wrong_password_is_an_authentication_error(mail: Controller, factory: AccountFactory) -> None:
    with pytest.raises(AuthenticationError):
        subjects(factory, spec(mail, ALICE, password=SecretStr("wrong")))


def test_autodiscover_finds_the_simulators_ews(mail: Controller, factory: AccountFactory) -> None:
    connection = spec(mail, ALICE, ews_url=None, autodiscover=True, autodiscover_url=mail.autodiscover_url)
    account = factory.account(connection)
    assert account.protocol.service_endpoint == mail.url
    assert subjects(factory, connection) == ["for alice"]
    assert account.primary_smtp_address == ALICE


def test_autodiscover_of_an_unknown_mailbox(mail: Controller, factory: AccountFactory) -> None:
    connection = spec(mail, "nobody@contoso.com", ews_url=None, autodiscover=True,
                      autodiscover_url=mail.autodiscover_url, username=ALICE)
    with pytest.raises(MailboxNotFoundError):
        factory.account(connection)


@pytest.mark.parametrize(("kind", "back_off"), [("server_busy", 30.0), ("http_503", None)])
def test_faults_come_back_at_once_as_transient_errors(mail: Controller, factory: AccountFactory, kind: str,
                                                      back_off: float | None) -> None:
    account = factory.account(spec(mail, ALICE, server_version="15.2.1544.4"))
    mail.control.fault(kind, operation="GetFolder")
    before = len(mail.control.requests())
    with pytest.raises(TransientTransportError) as caught, ews_errors(mailbox=ALICE):
        account.inbox.refresh()
    assert len(mail.control.requests()) - before <= 1  # exchangelib neither slept nor retried
    if back_off is not None:
        assert caught.value.back_off == back_off


def test_the_parsing_override_reads_the_simulator_identically(mail: Controller,
                                                              factory: AccountFactory) -> None:
    for n in range(5):
        mail.control.inject(ALICE, from_=BOB, subject=f"bulk {n}", body="x" * 5000 * (n + 1))
    was = perf.is_installed()
    results = []
    try:
        for install in (False, True):
            perf.install() if install else perf.uninstall()
            account = factory.account(spec(mail, ALICE))
            items = account.inbox.all().only("subject", "mime_content")
            results.append(sorted((i.subject, i.mime_content) for i in items))
    finally:
        perf.install() if was else perf.uninstall()
    assert results[0] == results[1] and len(results[0]) == 6
