"""Fixtures for anything that needs a CRM: the embedded CRM seeded with a small organisation, its
in-process gateway, and a running Web API facade with the Dynamics adapter talking to it over HTTP.

Use them from a ``conftest.py`` by importing the fixture names::

    from tests.support.crm import crm_clock, crm_facade, crm_org, dynamics_gateway, embedded_crm  # noqa: F401

The organisation (``Organisation``) is Contoso: the router's service account (no mailbox of its own),
users Alice (filter: leads, contacts, accounts) and Bert (filter: all), queues Sales (all) and Support
(responses only), and the customers Carol (contact), Fabrikam (account) and Dave (lead). Every mailbox
uses the router both ways and is approved. The clock is a FrozenClock; move it with ``advance``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.crm.codes import Approval, FilteringMethod, IncomingDeliveryMethod, OutgoingDeliveryMethod
from router.crm.dynamics import DynamicsGateway, DynamicsSettings, NtlmCredentials, OAuthCredentials
from router.crm.embedded import Draft, EmbeddedCrm, EmbeddedGateway, MailboxSettings
from router.crm.facade import CrmFacade, FacadeCredentials
from router.crm.gateway import IncomingEmail, RecordRef

SERVICE_ACCOUNT = "CONTOSO\\svc-router"
SERVICE_PASSWORD = "Router-Passw0rd!"
OAUTH_CLIENT_ID = "6f1c1a52-9d3e-4f7b-8a51-2c4d9e0b7a11"
OAUTH_SECRET = "client-secret-for-tests"
CLOCK_START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Organisation:
    """The seeded records, and each router mailbox id by address."""

    service: RecordRef
    alice: RecordRef
    bert: RecordRef
    sales: RecordRef
    support: RecordRef
    carol: RecordRef
    fabrikam: RecordRef
    dave: RecordRef
    mailboxes: dict[str, str]

    def mailbox(self, address: str) -> str:
        """The mailbox id of ``address``."""
        return self.mailboxes[address]

    @property
    def mailbox_ids(self) -> list[str]:
        """Every router mailbox id."""
        return list(self.mailboxes.values())


def seed_organisation(crm: EmbeddedCrm) -> Organisation:
    """Create Contoso's users, queues and customers in ``crm`` (see the module docstring)."""
    approved = MailboxSettings(approval=Approval.APPROVED)
    none = MailboxSettings(incoming=IncomingDeliveryMethod.NONE, outgoing=OutgoingDeliveryMethod.NONE)
    service = crm.add_user(
        "E-mail Router",
        "svc-router@contoso.com",
        SERVICE_ACCOUNT,
        settings=none,
        application_id=OAUTH_CLIENT_ID,
    )
    alice = crm.add_user("Alice Archer", "alice@contoso.com", "CONTOSO\\alice", settings=approved)
    bert = crm.add_user(
        "Bert Brown",
        "bert@contoso.com",
        "CONTOSO\\bert",
        settings=MailboxSettings(approval=Approval.APPROVED, filtering=FilteringMethod.ALL),
    )
    sales = crm.add_queue("Sales", "sales@contoso.com", settings=approved)
    support = crm.add_queue(
        "Support",
        "support@contoso.com",
        settings=MailboxSettings(approval=Approval.APPROVED, filtering=FilteringMethod.RESPONSES),
    )
    carol = crm.add_customer("contact", "Carol Clark", "carol@fabrikam.com")
    fabrikam = crm.add_customer("account", "Fabrikam", "info@fabrikam.com")
    dave = crm.add_customer("lead", "Dave Dunn", "dave@litware.com", company="Litware")
    boxes = {m.address: m.mailbox_id for m in crm.load_mailboxes()}
    return Organisation(service, alice, bert, sales, support, carol, fabrikam, dave, boxes)


def facade_credentials() -> FacadeCredentials:
    """The service account for NTLM and the OAuth client, as the facade accepts them."""
    return FacadeCredentials(
        ntlm_accounts={SERVICE_ACCOUNT: SecretStr(SERVICE_PASSWORD)},
        oauth_clients={OAUTH_CLIENT_ID: SecretStr(OAUTH_SECRET)},
    )


def ntlm_settings(facade: CrmFacade, version: str = "9.0", **overrides: Any) -> DynamicsSettings:
    """Adapter settings for ``facade`` with the service account over NTLM (``overrides``: other fields)."""
    settings = DynamicsSettings(
        base_url=facade.api_url(version, "contoso"),
        credentials=NtlmCredentials(SERVICE_ACCOUNT, SecretStr(SERVICE_PASSWORD)),
    )
    return replace(settings, **overrides)


def oauth_settings(facade: CrmFacade, version: str = "9.0", **overrides: Any) -> DynamicsSettings:
    """Adapter settings for ``facade`` with the OAuth client-credentials grant."""
    credentials = OAuthCredentials(
        facade.token_url, OAUTH_CLIENT_ID, SecretStr(OAUTH_SECRET), resource="urn:crm"
    )
    settings = DynamicsSettings(base_url=facade.api_url(version, "contoso"), credentials=credentials)
    return replace(settings, **overrides)


@pytest.fixture
def crm_clock() -> FrozenClock:
    """The CRM's (and the gateways') clock."""
    return FrozenClock(CLOCK_START)


@pytest.fixture
def embedded_crm(tmp_path: Path, crm_clock: FrozenClock) -> Iterator[EmbeddedCrm]:
    """An empty embedded CRM in a temporary SQLite file."""
    crm = EmbeddedCrm(tmp_path / "crm.sqlite", clock=crm_clock)
    yield crm
    crm.close()


@pytest.fixture
def crm_org(embedded_crm: EmbeddedCrm) -> Organisation:
    """The embedded CRM seeded with Contoso."""
    return seed_organisation(embedded_crm)


@pytest.fixture
def embedded_gateway(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> EmbeddedGateway:
    """The in-process gateway acting as the router's service account."""
    return EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT)


@pytest.fixture
def crm_facade(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> Iterator[CrmFacade]:
    """The Web API facade over the seeded CRM, listening on 127.0.0.1."""
    with CrmFacade(embedded_crm, credentials=facade_credentials()) as facade:
        yield facade


@pytest.fixture
def dynamics_gateway(crm_facade: CrmFacade, crm_clock: FrozenClock) -> Iterator[DynamicsGateway]:
    """The Dynamics adapter talking NTLM over HTTP to the facade."""
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    yield gateway
    gateway.close()


def incoming_email(**fields: Any) -> IncomingEmail:
    """An IncomingEmail from Carol to Alice with sensible defaults; ``fields`` override any of them."""
    values: dict[str, Any] = {
        "message_id": "<m1@fabrikam.com>",
        "subject": "Hello",
        "sender": "Carol Clark <carol@fabrikam.com>",
        "to": ("alice@contoso.com",),
        "received_on": CLOCK_START,
        "body": "<p>Hello</p>",
        "receiving_address": "alice@contoso.com",
    }
    values.update(fields)
    return IncomingEmail(**values)


def draft_email(
    crm: EmbeddedCrm, sender: RecordRef, *to: str, subject: str = "Quote 42", **fields: Any
) -> str:
    """Compose a Draft from ``sender`` to the addresses ``to``; return its id."""
    return crm.create_draft(
        Draft(sender=sender, subject=subject, body=fields.pop("body", "<p>Quote</p>"), to=to, **fields)
    )
