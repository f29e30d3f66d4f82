"""Autodiscover as production takes it, against the simulator: the profile's explicit endpoint (SOAP
GetUserSettings with its redirects) and the DNS path with an injected resolver; and the POX
autodiscover.xml that Outlook-style clients (and the legacy router) ask.

No test writes the account factory's cache or calls ``discover_at`` itself: each builds an account
from a ConnectionSpec as the service does, and the factory discovers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dns.resolver
import pytest
import requests
from exchangelib.autodiscover import clear_cache
from exchangelib.protocol import BaseProtocol
from lxml import etree
from pydantic import SecretStr

from router.errors import AuthenticationError, PermanentTransportError, TransientTransportError
from router.ews import PROCESS_TLS, AccountFactory, ConnectionSpec, TlsPolicy
from router.ews.tls import HostTlsAdapter
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, simulator_adapter

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
        self.hosts: set[str] = set()
        self.asked: list[tuple[str, str]] = []

    def resolve(self, qname: str, rdtype: str, *, lifetime: float | None = None) -> Any:
        self.asked.append((qname, rdtype))
        if rdtype == "SRV" and qname in self.srv:
            return [_Rdata(self.srv[qname])]
        if rdtype == "A" and qname in self.hosts:
            return [_Rdata("127.0.0.1")]
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


POX_REQUEST = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
               'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{}</EMailAddress>'
               '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/'
               'responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')
POX = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def _pox(sim: Controller, address: str, password: str = PASSWORD) -> requests.Response:
    """POST autodiscover.xml as Outlook (and the legacy E-mail Router) does."""
    with requests.Session() as session:
        session.mount("https://", simulator_adapter(sim.ca_file)())
        return session.post(sim.base_url + "/autodiscover/autodiscover.xml", auth=(ALICE, password),
                            data=POX_REQUEST.format(address).encode(), timeout=30,
                            headers={"Content-Type": "text/xml; charset=utf-8"})


def test_pox_autodiscover_answers_settings_and_redirects(ews_simulator: Controller,
                                                         redirects: dict[str, str]) -> None:
    answer = etree.fromstring(_pox(ews_simulator, ALICE).content)
    assert answer.findtext(f".//{POX}EwsUrl") == ews_simulator.url
    redirects[ALIAS] = ALICE
    moved = etree.fromstring(_pox(ews_simulator, ALIAS).content)
    assert moved.findtext(f".//{POX}Action") == "redirectAddr"
    assert moved.findtext(f".//{POX}RedirectAddr") == ALICE
    assert _pox(ews_simulator, ALICE, password="wrong").status_code == 401


class FollowsFakeDns(HostTlsAdapter):
    """Connections go where the fake DNS says (the HTTP side of an injected resolver): a request to a
    host the table names is sent to that ``host:port`` instead, as if DNS had pointed there."""

    routes: dict[str, str] = {}

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        target = self.routes.get(parts.hostname or "")
        if target is not None:
            request.url = urlunsplit(parts._replace(netloc=target))
        return super().send(request, *args, **kwargs)


def test_the_dns_path_finds_the_server_dns_points_autodiscover_at(
        ews_simulator: Controller, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 2 of the algorithm: ``autodiscover.contoso.com`` resolves (in the injected DNS) to the server."""
    resolver = FakeDns({})
    resolver.hosts.add("autodiscover.contoso.com.")
    server = urlsplit(ews_simulator.url).netloc
    monkeypatch.setattr(FollowsFakeDns, "routes", {"autodiscover.contoso.com": server})
    PROCESS_TLS.register(ews_simulator.url, TlsPolicy(ca_bundle=ews_simulator.ca_file), "dns-path-test")
    try:
        with AccountFactory(clock, resolver=resolver) as factory:
            monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", FollowsFakeDns)
            account = factory.account(ConnectionSpec(ALICE, autodiscover=True, username=ALICE,
                                                     password=SecretStr(PASSWORD),
                                                     ca_bundle=ews_simulator.ca_file))
            assert account.protocol.service_endpoint == ews_simulator.url
            assert account.primary_smtp_address == ALICE
    finally:
        PROCESS_TLS.release("dns-path-test")
        clear_cache()
    assert ("contoso.com.", "A") in resolver.asked and ("autodiscover.contoso.com.", "A") in resolver.asked
