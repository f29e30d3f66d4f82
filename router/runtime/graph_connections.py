"""Turn a published Graph profile and one served mailbox into the Graph layer's ``GraphSpec``.

The Graph counterpart of ``router.runtime.connections.connection_spec``: the app registration (tenant,
client id) comes from the profile's ``oauth`` table, its client secret or certificate from the vault
credential the binding names, the national cloud and Graph root from ``national_cloud`` / ``graph_url``.
``mailbox_spec`` picks the transport a profile names, so lane builders need not know there are two.

An outgoing profile with ``service_mailbox`` reaches Graph as that mailbox (the spec's ``mailbox``): the
router sends from it with From = the user and Exchange decides Send As / Send On Behalf. Without it the
spec is the user's own mailbox, which application permission sends from as the user.
"""

from __future__ import annotations

from router.config import Direction, MailboxAssignment
from router.config.published import PublishedConfig
from router.config.transport import Transport
from router.errors import ConfigError
from router.ews.spec import ConnectionSpec
from router.graph.clouds import NationalCloud
from router.graph.factory import GraphSpec
from router.graph.tokens import CertificateCredential
from router.runtime.connections import (
    LOCAL_SYSTEM_CREDENTIAL,
    _ca_bundle,
    connection_spec,
    profile_for,
)
from router.vault.credentials import OAuthCertificateCredential, OAuthClientSecretCredential

TOKEN_PATH = "/oauth2/v2.0/token"


def is_graph(config: PublishedConfig, assignment: MailboxAssignment, direction: Direction) -> bool:
    """True when ``assignment``'s profile for ``direction`` reaches its mailbox over Microsoft Graph."""
    return profile_for(config, assignment, direction).transport is Transport.GRAPH


def mailbox_spec(config: PublishedConfig, assignment: MailboxAssignment,
                 direction: Direction) -> ConnectionSpec | GraphSpec:
    """The spec of the transport ``assignment``'s profile for ``direction`` uses."""
    if is_graph(config, assignment, direction):
        return graph_spec(config, assignment, direction)
    return connection_spec(config, assignment, direction)


def graph_spec(config: PublishedConfig, assignment: MailboxAssignment, direction: Direction) -> GraphSpec:
    """Build the GraphSpec that reaches ``assignment``'s mailbox for ``direction`` over Graph."""
    profile = profile_for(config, assignment, direction)
    oauth = profile.oauth
    if profile.transport is not Transport.GRAPH or oauth is None:
        raise ConfigError(f'profile {assignment.profile(direction)!r} is not a transport = "graph" profile '
                          "with an oauth table", mailbox=assignment.address,
                          hint="`email-router profiles validate` names what the profile lacks")
    name = assignment.credential(direction) or LOCAL_SYSTEM_CREDENTIAL
    credential = config.credential(name)
    secret: str | None = None
    certificate: CertificateCredential | None = None
    if isinstance(credential, OAuthClientSecretCredential):
        secret = credential.client_secret.get_secret_value()
    elif isinstance(credential, OAuthCertificateCredential):
        certificate = CertificateCredential(credential.private_key.get_secret_value(), credential.certificate)
    else:
        raise ConfigError(f"credential {name!r} is neither an oauth_client_secret nor an oauth_certificate "
                          "credential", mailbox=assignment.address,
                          hint=f"run `email-router credentials set {name}` with --kind oauth_client_secret "
                          "or oauth_certificate, then publish")
    sender = profile.service_mailbox if direction is Direction.OUTGOING else None
    return GraphSpec(
        mailbox=sender or assignment.address,
        tenant=oauth.tenant_id,
        client_id=oauth.client_id,
        secret=secret,
        certificate=certificate,
        cloud=NationalCloud(profile.national_cloud.value),
        authority_host=_authority(oauth.tenant_id, str(oauth.authority),
                                  str(oauth.token_endpoint) if oauth.token_endpoint else None),
        graph_url=str(profile.graph_url).rstrip("/") if profile.graph_url else None,
        tls_verify=profile.tls.verify,
        ca_bundle=_ca_bundle(config, profile),
        timeout=profile.timeouts.read_seconds,
        connect_timeout=profile.timeouts.connect_seconds,
    )


def _authority(tenant: str, authority: str, token_endpoint: str | None) -> str:
    """The Entra ID host MSAL signs in at: the token endpoint's, when the profile overrides it."""
    suffix = f"/{tenant}{TOKEN_PATH}"
    if token_endpoint and token_endpoint.rstrip("/").endswith(suffix):
        return token_endpoint.rstrip("/")[: -len(suffix)]
    return authority.rstrip("/")
