"""Fixtures for the simulator's Microsoft Graph face and the router's Graph client, over HTTPS.

``graph_sim`` runs a simulator seeded with GRAPH_ORG: a service mailbox holding Send As on alice and
Send On Behalf on bob, carol with no grant, dave outside the app's application access policy, and
three app registrations (secret with both permissions, secret with Mail.ReadWrite only, certificate).
``graph_client(sim, ...)`` builds the router's GraphClient against it; ``app_token(sim, ...)`` fetches a
Graph token from the token endpoint for raw requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from router.clock import Clock, SystemClock
from router.graph.client import GraphClient
from router.graph.clouds import NationalCloud, endpoints
from router.graph.mailbox import GraphMailbox
from router.graph.tokens import AppCredentials, CertificateCredential, TokenSource
from router.simulator import Controller
from tests.support.ews_simulator import simulator_adapter

TENANT = "contoso.onmicrosoft.com"
APP = "11111111-aaaa-4bbb-8ccc-000000000001"
APP_SECRET = "graph-app-secret-Kx9"
READONLY = "11111111-aaaa-4bbb-8ccc-000000000002"
CERT_APP = "11111111-aaaa-4bbb-8ccc-000000000003"
SVC = "crm.service@contoso.com"
SVC_PASSWORD = "svc-Pa55-for-ews"
"""The service mailbox also logs on to EWS (Basic), so one organisation serves both transports."""
ALICE = "alice@contoso.com"
BOB = "bob@contoso.com"
CAROL = "carol@contoso.com"
DAVE = "dave@contoso.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _certificate() -> CertificateCredential:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "email-router test app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return CertificateCredential(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        cert.public_bytes(serialization.Encoding.PEM).decode(),
    )


CERTIFICATE = _certificate()


def graph_org() -> dict[str, object]:
    return {
        "users": [
            {"address": SVC, "name": "CRM Service", "password": SVC_PASSWORD},
            {"address": ALICE, "name": "Alice", "send_as": [SVC]},
            {"address": BOB, "name": "Bob", "send_on_behalf": [SVC]},
            {"address": CAROL, "name": "Carol"},
            {"address": DAVE, "name": "Dave"},
        ],
        "folders": [{"mailbox": SVC, "path": "Inbox/CRM"}],
        "apps": [
            {
                "client_id": APP,
                "client_secret": APP_SECRET,
                "tenant": TENANT,
                "graph_permissions": ["Mail.ReadWrite", "Mail.Send"],
                "graph_mailboxes": [SVC, ALICE, BOB, CAROL],
            },
            {"client_id": READONLY, "client_secret": "ro-secret", "graph_permissions": ["Mail.ReadWrite"]},
            {
                "client_id": CERT_APP,
                "client_secret": "unused-secret",
                "graph_permissions": ["Mail.ReadWrite", "Mail.Send"],
                "certificate": CERTIFICATE.certificate_pem,
            },
        ],
    }


@pytest.fixture(scope="session")
def graph_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graph-sim-state")


@pytest.fixture
def graph_sim(graph_tls_dir: Path) -> Iterator[Controller]:
    with Controller(state_dir=graph_tls_dir, seed=graph_org()) as sim:
        yield sim


def sim_session(sim: Controller) -> requests.Session:
    """A session that verifies TLS against the simulator's CA (whatever REQUESTS_CA_BUNDLE says)."""
    session = requests.Session()
    session.mount("https://", simulator_adapter(sim.ca_file)())
    return session


def graph_client(
    sim: Controller,
    client_id: str = APP,
    *,
    secret: str | None = APP_SECRET,
    certificate: CertificateCredential | None = None,
    cloud: NationalCloud = NationalCloud.GLOBAL,
    clock: Clock | None = None,
) -> GraphClient:
    """The router's Graph client for an app of GRAPH_ORG, with the simulator as authority and Graph."""
    session = sim_session(sim)
    creds = AppCredentials(TENANT, client_id, secret=secret, certificate=certificate)
    tokens = TokenSource(creds, endpoints(cloud), session, authority_host=sim.base_url)
    return GraphClient(tokens, sim.graph_url, session, clock or SystemClock())


def graph_mailbox(sim: Controller, address: str, **kwargs: object) -> GraphMailbox:
    return GraphMailbox(graph_client(sim, **kwargs), address)  # type: ignore[arg-type]


def app_token(
    sim: Controller, client_id: str = APP, secret: str = APP_SECRET, scope: str = GRAPH_SCOPE
) -> str:
    """A token from the simulator's token endpoint (client credentials)."""
    response = sim_session(sim).post(
        f"{sim.base_url}/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
