"""From a mailbox's Graph settings to a ready session: one client per app registration, shared.

``GraphSpec`` is to Graph what ``router.ews.ConnectionSpec`` is to EWS: what the service builds from a
profile and its vault credential. ``GraphFactory`` keeps one ``GraphClient`` (HTTP session, MSAL token
cache, throttle) per app registration and endpoint, so every mailbox of that app shares one token and
Graph's per-app-per-mailbox limits are counted where Graph counts them. A changed secret or certificate
(a new published version) gets a new client. TLS is verified against the spec's CA bundle whatever
REQUESTS_CA_BUNDLE says, or the system store.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from router.clock import Clock
from router.graph import folders
from router.graph.client import GraphClient
from router.graph.clouds import NationalCloud, endpoints
from router.graph.mailbox import GraphMailbox
from router.graph.session import GraphSession
from router.graph.tokens import AppCredentials, CertificateCredential, TokenSource
from router.http_environment import environment_once


@dataclass(frozen=True)
class GraphSpec:
    """One mailbox reached over Graph: the app registration, its cloud and how to verify TLS."""

    mailbox: str
    tenant: str
    client_id: str
    secret: str | None = field(default=None, repr=False)
    certificate: CertificateCredential | None = field(default=None, repr=False)
    cloud: NationalCloud = NationalCloud.GLOBAL
    authority_host: str | None = None
    """Override of the cloud's Entra ID host (a profile's ``oauth.authority``; the simulator)."""
    graph_url: str | None = None
    """Override of the cloud's Graph root (a profile's ``graph_url``; the simulator's ``/v1.0``)."""
    tls_verify: bool = True
    ca_bundle: Path | None = None
    timeout: float = 120.0
    connect_timeout: float = 10.0

    @functools.cached_property
    def _app_key(self) -> tuple[object, ...]:
        return self._key_parts()

    def app_key(self) -> tuple[object, ...]:
        """What makes two specs share a client (asked on every lane run: computed once per spec)."""
        return self._app_key

    def _key_parts(self) -> tuple[object, ...]:
        """What makes two specs share a client: the app, its credential, endpoints and TLS."""
        secret = self.secret or (self.certificate.private_key_pem if self.certificate else "")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return (
            self.tenant.lower(),
            self.client_id,
            digest,
            self.cloud,
            self.authority_host,
            self.graph_url,
            self.tls_verify,
            self.ca_bundle,
            self.timeout,
            self.connect_timeout,
        )


class _VerifyingAdapter(HTTPAdapter):
    """Verifies every request with one fixed setting, so the environment cannot change it."""

    def __init__(self, verify: bool | str) -> None:
        super().__init__()
        self._verify = verify

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._verify
        return super().send(request, **kwargs)


class GraphFactory:
    """Builds and shares Graph clients; ``close()`` closes their HTTP sessions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._clients: dict[tuple[object, ...], tuple[GraphClient, tuple[requests.Session, ...]]] = {}
        self._lock = threading.Lock()

    def client(self, spec: GraphSpec) -> GraphClient:
        key = spec.app_key()
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build(spec)
            return self._clients[key][0]

    def mailbox(self, spec: GraphSpec) -> GraphMailbox:
        return GraphMailbox(self.client(spec), spec.mailbox)

    def session(self, spec: GraphSpec, folder: str = "inbox") -> GraphSession:
        """The mailbox-session contract for ``spec``'s mailbox, syncing ``folder`` (a path such as
        ``Inbox/CRM``; ``Inbox`` is the well-known Inbox)."""
        client = self.client(spec)
        name = folder.strip().strip("/")
        ref = "inbox" if name.lower() in ("", "inbox") else folders.resolve(client, spec.mailbox, name)
        return GraphSession(GraphMailbox(client, spec.mailbox, ref), self._clock)

    def _build(self, spec: GraphSpec) -> tuple[GraphClient, tuple[requests.Session, ...]]:
        cloud = endpoints(spec.cloud)
        verify: bool | str = (str(spec.ca_bundle) if spec.ca_bundle else True) if spec.tls_verify else False
        graph_url = spec.graph_url or cloud.graph_url
        credentials = AppCredentials(
            spec.tenant, spec.client_id, secret=spec.secret, certificate=spec.certificate
        )
        # MSAL's few token requests keep requests' reading of the environment (proxies, .netrc).
        token_session, graph_session = _session(verify), _graph_session(verify, graph_url)
        tokens = TokenSource(
            credentials, cloud, token_session, spec.authority_host or cloud.authority_host, self._clock
        )
        client = GraphClient(
            tokens, graph_url, graph_session, self._clock, timeout=(spec.connect_timeout, spec.timeout)
        )
        return client, (graph_session, token_session)

    def close(self) -> None:
        with self._lock:
            for _, sessions in self._clients.values():
                for session in sessions:
                    session.close()
            self._clients.clear()


def _session(verify: bool | str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", _VerifyingAdapter(verify))
    return session


def _graph_session(verify: bool | str, graph_url: str) -> requests.Session:
    """The session of Graph requests, with the environment read once for the Graph root
    (``environment_once``): requests' per-request scan was most of an idle poll's CPU. The CA bundle it
    may pick up changes nothing: ``_VerifyingAdapter`` verifies with the spec's own setting."""
    return environment_once(_session(verify), graph_url)
