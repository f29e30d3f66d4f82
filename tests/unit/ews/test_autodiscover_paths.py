"""Autodiscover as production takes it, against the simulator: the profile's explicit endpoint (SOAP
GetUserSettings with its redirects) and the DNS path with an injected resolver.

No test writes the account factory's cache or calls ``discover_at`` itself: each builds an account
from a ConnectionSpec as the service does, and the factory discovers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dns.resolver
import pytest
from pydantic import SecretStr

from router.errors import AuthenticationError, PermanentTransportError, TransientTransportError
from router.ews import AccountFactory, ConnectionSpec
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB, PASSWORD

ALIAS = "alice.adams@contoso.com"


def explicit(sim: Controller, mailbox: str, **changes: Any) -> ConnectionSpec:
    """Autodiscover at the simulator's endpoint, as a profile with ``autodiscover_url`` gives it."""
    settings: dict[str, Any] = {"autodiscover": True, "autodiscover_url": sim.autodiscover_url,
                                "username": ALICE, "password": SecretStr(PASSWORD), "ca_bundle": sim.ca_file}
    return ConnectionSpec(mailbox, **{**settings, **changes})


@pytest.fixture
def redirects(ews_simulator: Controller) -> Iterator[dict[str, str]]:
    table = ews_simulator.simulator.autodiscover.redirects
    yield table
    table.clear()


def test_the_explicit_endpoint_names_the_ews_url(ews_simulator: Controller, factory: AccountFactory) -> None:
    account = factory.account(explicit(ews_simulator, ALICE))
    assert account.protocol.service_endpoint == ews_simulator.url and account.primary_smtp_address == ALICE


def test_a_redirect_address_is_followed_to_the_mailbox(ews_simulator: Controller, factory: AccountFactory,
                                                       redirects: dict[str, str]) -> None:
    redirects[ALIAS] = ALICE
    account = factory.account(explicit(ews_simulator, ALIAS))
    assert account.primary_smtp_address == ALICE and account.protocol.service_endpoint == ews_simulator.url


def test_a_redirect_url_is_followed_to_the_other_endpoint(ews_simulator: Controller, factory: AccountFactory,
                                                          redirects: dict[str, str]) -> None:
    moved = ews_simulator.autodiscover_url + "?site=moved"
    redirects[ALICE] = moved
    first = explicit(ews_simulator, ALICE)
    with pytest.raises(PermanentTransportError, match="redirected"):
        factory.account(first)  # the moved endpoint redirects to itself too: a loop, refused
    redirects.clear()
    account = factory.account(explicit(ews_simulator, ALICE, autodiscover_url=moved))
    assert account.protocol.service_endpoint == ews_simulator.url


def test_circular_address_redirects_are_refused(ews_simulator: Controller, factory: AccountFactory,
                                                redirects: dict[str, str]) -> None:
    redirects[ALIAS] = BOB
    redirects[BOB] = ALIAS
    with pytest.raises(PermanentTransportError, match="redirected"):
        factory.account(explicit(ews_simulator, ALIAS))


def test_a_wrong_password_at_the_autodiscover_endpoint_is_an_authentication_error(
        ews_simulator: Controller, factory: AccountFactory) -> None:
    with pytest.raises(AuthenticationError) as caught:
        factory.account(explicit(ews_simulator, ALICE, password=SecretStr("wrong")))
    assert "wrong" not in str(caught.value)


class FakeDns:
    """An injected resolver: answers what the table holds, NXDOMAIN otherwise; records every query."""

    def __init__(self, srv: dict[str, str]) -> None:
        self.srv = srv
        self.asked: list[tuple[str, str]] = []

    def resolve(self, qname: str, rdtype: str, *, lifetime: float | None = None) -> Any:
        self.asked.append((qname, rdtype))
        if rdtype == "SRV" and qname in self.srv:
            return [_Rdata(self.srv[qname])]
        raise dns.resolver.NXDOMAIN(qnames=[qname], responses={})


class _Rdata:
    def __init__(self, text: str) -> None:
        self.text = text

    def to_text(self) -> str:
        return self.text


def test_the_dns_path_asks_the_injected_resolver(ews_simulator: Controller, clock: Any) -> None:
    """Without an explicit endpoint the factory runs exchangelib's algorithm on the injected resolver.

    Its SRV answer (port 8443) is skipped as exchangelib does for any port but 443; no step finds an
    endpoint, which is a transient failure (DNS may be fixed).
    """
    resolver = FakeDns({"_autodiscover._tcp.contoso.com.": "0 0 8443 autodiscover.contoso.com."})
    with AccountFactory(clock, resolver=resolver) as factory, \
            pytest.raises(TransientTransportError, match="All steps in the autodiscover protocol failed"):
        factory.account(ConnectionSpec(ALICE, autodiscover=True, username=ALICE, password=SecretStr(PASSWORD),
                                       ca_bundle=ews_simulator.ca_file))
    assert ("contoso.com.", "A") in resolver.asked, "step 1 checked the domain's host in the injected DNS"
    assert ("_autodiscover._tcp.contoso.com.", "SRV") in resolver.asked, "step 4 asked it for SRV records"
