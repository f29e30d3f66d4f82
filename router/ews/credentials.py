"""exchangelib credentials built from a ConnectionSpec, including OAuth against any token endpoint.

exchangelib's ``OAuth2Credentials`` always fetch tokens from
``https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token``. ``RouterOAuth2Credentials`` keeps
exchangelib's client-credentials flow (token fetch, refresh, session handling) and only lets the
profile choose the token endpoint and scope, for on-premises hybrid modern auth, sovereign clouds
and the EWS simulator.
"""

from __future__ import annotations

from typing import Any

from exchangelib.account import Identity
from exchangelib.credentials import Credentials, OAuth2Credentials
from exchangelib.transport import BASIC, NTLM, OAUTH2

from router.ews.spec import AuthKind, ConnectionSpec

EXCHANGELIB_AUTH: dict[AuthKind, str] = {AuthKind.BASIC: BASIC, AuthKind.NTLM: NTLM, AuthKind.OAUTH: OAUTH2}
"""exchangelib's auth type per ``AuthKind``; giving it skips exchangelib's auth-type probe."""


class RouterOAuth2Credentials(OAuth2Credentials):  # type: ignore[misc]
    """OAuth 2.0 client credentials with an overridable token endpoint and scope."""

    def __init__(self, *, token_endpoint: str | None, scope: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_endpoint = token_endpoint
        self.scopes = tuple(scope)

    @property
    def token_url(self) -> str:
        """The profile's token endpoint, else Microsoft's for the tenant."""
        return self.token_endpoint or str(super().token_url)

    @property
    def scope(self) -> list[str]:
        """The scopes the token is requested for."""
        return list(self.scopes)


def credentials_for(spec: ConnectionSpec) -> Any:
    """The exchangelib credentials of a spec (secrets unwrapped only here, at the edge)."""
    if spec.auth is AuthKind.OAUTH:
        assert spec.oauth_client_secret is not None, "ConnectionSpec checked this"
        # App-only tokens must name the mailbox they act for in every request: exchangelib sends the
        # credentials' identity as ExchangeImpersonation and X-AnchorMailbox.
        return RouterOAuth2Credentials(
            client_id=spec.oauth_client_id, client_secret=spec.oauth_client_secret.get_secret_value(),
            tenant_id=spec.oauth_tenant_id, identity=Identity(primary_smtp_address=spec.mailbox),
            token_endpoint=spec.oauth_token_endpoint, scope=spec.oauth_scope)
    assert spec.username is not None and spec.password is not None, "ConnectionSpec checked this"
    return Credentials(spec.username, spec.password.get_secret_value())
