"""Turn a published profile and one served mailbox into the EWS layer's ``ConnectionSpec``.

This is the one place where the admin's vocabulary (Access Credentials, User Type, Access Type) meets
the transport's (who logs in, and whether it reaches the mailbox by delegation or impersonation):

* **User** profiles, and Administrator profiles with ``delegate`` or ``send_as``, open the target
  mailbox with exchangelib's DELEGATE access: the account's own mailbox, or another's through Full
  Access. Whether a send comes out "as" or "on behalf of" the user is decided by Exchange from the
  rights the account holds, never by the client.
* Administrator + ``impersonation`` (and app-only OAuth, which requires it) uses IMPERSONATION.
* ``local_system`` has no Windows machine account to borrow on this platform; the service's own
  identity is the vault credential named ``LOCAL_SYSTEM_CREDENTIAL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from pydantic import SecretStr

from router.config import Direction, MailboxAssignment, Profile
from router.config.common import AuthMethod
from router.config.profile import AccessType as ProfileAccess
from router.config.profile import CredentialSource, UserType
from router.config.published import PublishedConfig
from router.errors import ConfigError
from router.ews.spec import AccessType, AuthKind, ConnectionSpec
from router.vault.credentials import OAuthClientSecretCredential, PasswordCredential

LOCAL_SYSTEM_CREDENTIAL = "local-system"
"""Vault credential holding the service's own identity, used by ``local_system`` profiles."""

class _Login(TypedDict, total=False):
    """The sign-in fields of a ConnectionSpec, by authentication method."""

    username: str
    password: SecretStr
    oauth_client_id: str
    oauth_tenant_id: str
    oauth_client_secret: SecretStr
    oauth_token_endpoint: str
    oauth_scope: tuple[str, ...]


MIB = 1024 * 1024
_AUTH = {AuthMethod.BASIC: AuthKind.BASIC, AuthMethod.NTLM: AuthKind.NTLM, AuthMethod.OAUTH: AuthKind.OAUTH}


def profile_for(config: PublishedConfig, assignment: MailboxAssignment, direction: Direction) -> Profile:
    """Return the profile serving ``assignment`` in ``direction``; ConfigError if that direction is off."""
    name = assignment.profile(direction)
    if name is None:
        raise ConfigError(f"mailbox {assignment.address} has no {direction.value} profile",
                          mailbox=assignment.address,
                          hint="bind an incoming/outgoing profile to it (or its deployment) and publish")
    return config.profiles.profiles[name]


def connection_spec(config: PublishedConfig, assignment: MailboxAssignment,
                    direction: Direction) -> ConnectionSpec:
    """Build the ConnectionSpec that opens ``assignment``'s mailbox for ``direction``."""
    profile = profile_for(config, assignment, direction)
    credential_name = assignment.credential(direction) or LOCAL_SYSTEM_CREDENTIAL
    login = _login(config, profile, credential_name)
    return ConnectionSpec(
        mailbox=assignment.address,
        ews_url=str(profile.ews_url) if profile.ews_url else None,
        autodiscover=profile.autodiscover,
        autodiscover_url=str(profile.autodiscover_url) if profile.autodiscover_url else None,
        auth=_AUTH[profile.auth],
        access_type=access_type(profile),
        tls_verify=profile.tls.verify,
        ca_bundle=_ca_bundle(config, profile),
        timeout=profile.timeouts.read_seconds,
        connect_timeout=profile.timeouts.connect_seconds,
        max_connections=profile.max_connections,
        max_response_bytes=config.profiles.settings.max_response_mb * MIB,
        max_item_response_bytes=config.profiles.settings.max_message_response_mb * MIB,
        **login,
    )


def access_type(profile: Profile) -> AccessType:
    """IMPERSONATION for impersonating administrators, DELEGATE for everything else."""
    if profile.user_type is UserType.ADMINISTRATOR and profile.access_type is ProfileAccess.IMPERSONATION:
        return AccessType.IMPERSONATION
    return AccessType.DELEGATE


def _login(config: PublishedConfig, profile: Profile, credential_name: str) -> _Login:
    credential = config.credential(credential_name)
    if profile.auth is AuthMethod.OAUTH:
        if not isinstance(credential, OAuthClientSecretCredential) or profile.oauth is None:
            raise _wrong_kind(credential_name, "an oauth_client_secret")
        login = _Login(oauth_client_id=profile.oauth.client_id, oauth_tenant_id=profile.oauth.tenant_id,
                       oauth_client_secret=credential.client_secret,
                       oauth_token_endpoint=profile.oauth.token_url())
        if profile.oauth.scope:
            login["oauth_scope"] = (profile.oauth.scope,)
        return login
    if not isinstance(credential, PasswordCredential):
        raise _wrong_kind(credential_name, "a password")
    return _Login(username=credential.username, password=credential.password)


def _wrong_kind(name: str, wanted: str) -> ConfigError:
    return ConfigError(f"credential {name!r} is not {wanted} credential",
                       hint=f"run `email-router credentials set {name}` with the right --kind, then publish")


def _ca_bundle(config: PublishedConfig, profile: Profile) -> Path | None:
    bundle = profile.tls.ca_bundle
    if bundle is None or bundle.is_absolute():
        return bundle
    return Path(config.source) / bundle


def uses_own_credentials(profile: Profile) -> bool:
    """True when each mailbox signs in with its own credential (User Specified)."""
    return profile.credentials is CredentialSource.USER_SPECIFIED
