"""Graph's side of the token endpoint: audiences, OpenID discovery and certificate client assertions.

MSAL discovers ``{authority}/v2.0/.well-known/openid-configuration`` before asking for a token, and a
certificate credential arrives as a JWT client assertion signed with the app's private key; both are
answered here the way Entra ID answers them.
"""

from __future__ import annotations

import jwt
from cryptography import x509

from router.simulator.model import App
from router.simulator.store import Store

GRAPH_AUDIENCES = frozenset(
    {
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
    }
)
"""The Graph resources of the global, US Government (L4, L5) and 21Vianet clouds."""

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def audience_of(scope: str) -> str:
    """The resource a ``.default`` scope names (``https://graph.microsoft.com/.default`` -> resource)."""
    first = scope.split()[0] if scope.split() else ""
    return first.removesuffix("/.default").rstrip("/").lower()


def is_graph(audience: str) -> bool:
    return audience in GRAPH_AUDIENCES


def openid_configuration(base: str, tenant: str) -> dict[str, object]:
    """The discovery document of one tenant, pointing at this simulator's token endpoint."""
    authority = f"{base.rstrip('/')}/{tenant}"
    return {
        "issuer": f"{authority}/v2.0",
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "response_types_supported": ["code", "id_token", "token"],
    }


def assertion_app(store: Store, form: dict[str, str]) -> App | None:
    """The app a signed client assertion proves, or None when it is absent, forged or for another app."""
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return None
    app = store.apps.get(form.get("client_id", ""))
    if app is None or not app.certificate:
        return None
    try:
        key = x509.load_pem_x509_certificate(app.certificate.encode()).public_key()
        claims = jwt.decode(
            form.get("client_assertion", ""),
            key,  # type: ignore[arg-type]
            algorithms=["PS256", "RS256"],
            options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
        )
    except (ValueError, jwt.PyJWTError):
        return None
    return app if claims.get("iss") == claims.get("sub") == app.client_id else None
