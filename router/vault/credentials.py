"""What the vault holds: named credentials whose secret parts are ``SecretStr`` (masked in every repr).

Profiles never contain secrets; they name a credential, and the credential's ``kind`` must fit the
authentication that uses it: ``password`` for Basic (Clear Text) and NTLM, ``oauth_client_secret`` for
OAuth 2.0 client credentials, ``oauth_certificate`` (certificate + private key) for Microsoft Graph apps
that authenticate with a certificate.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

CREDENTIAL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"


class CredentialKind(StrEnum):
    """The kinds of credential the vault stores."""

    PASSWORD = "password"
    OAUTH_CLIENT_SECRET = "oauth_client_secret"
    OAUTH_CERTIFICATE = "oauth_certificate"


class _CredentialBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    updated_at: datetime | None = Field(
        default=None, description="When the credential was last set (UTC); shown by `credentials list`.")


class PasswordCredential(_CredentialBase):
    """A user name and password: Basic (Clear Text) or NTLM authentication."""

    kind: Literal[CredentialKind.PASSWORD] = Field(
        default=CredentialKind.PASSWORD, description="Always `password`.")
    username: str = Field(
        min_length=1, description="Account name, e.g. `CONTOSO\\svc-router` or `svc-router@contoso.com`.")
    password: SecretStr = Field(description="The account's password; never shown or logged.")


class OAuthClientSecretCredential(_CredentialBase):
    """The client secret of an app registration used for OAuth 2.0 client credentials."""

    kind: Literal[CredentialKind.OAUTH_CLIENT_SECRET] = Field(
        default=CredentialKind.OAUTH_CLIENT_SECRET, description="Always `oauth_client_secret`.")
    client_secret: SecretStr = Field(
        description="The app registration's client secret; never shown or logged.")


class OAuthCertificateCredential(_CredentialBase):
    """A certificate registered on an app registration, with its private key (Microsoft Graph)."""

    kind: Literal[CredentialKind.OAUTH_CERTIFICATE] = Field(
        default=CredentialKind.OAUTH_CERTIFICATE, description="Always `oauth_certificate`.")
    certificate: str = Field(
        pattern=r"-----BEGIN CERTIFICATE-----",
        description="The public certificate (PEM) uploaded to the app registration.")
    private_key: SecretStr = Field(description="Its private key (PEM, unencrypted); never shown or logged.")


Credential = PasswordCredential | OAuthClientSecretCredential | OAuthCertificateCredential
"""Any credential the vault stores, told apart by ``kind``."""

CREDENTIAL_ADAPTER: TypeAdapter[Credential] = TypeAdapter(
    Annotated[Credential, Field(discriminator="kind")])


def secret_values(credential: Credential) -> list[str]:
    """Return the secret strings of ``credential``, e.g. to register them with the log redactor."""
    if isinstance(credential, PasswordCredential):
        return [credential.password.get_secret_value()]
    if isinstance(credential, OAuthCertificateCredential):
        return [credential.private_key.get_secret_value()]
    return [credential.client_secret.get_secret_value()]


def to_plain(credential: Credential) -> dict[str, Any]:
    """Return the credential as JSON-ready data with its secrets revealed, for encryption only."""
    data = credential.model_dump(mode="json")
    if isinstance(credential, PasswordCredential):
        data["password"] = credential.password.get_secret_value()
    elif isinstance(credential, OAuthCertificateCredential):
        data["private_key"] = credential.private_key.get_secret_value()
    else:
        data["client_secret"] = credential.client_secret.get_secret_value()
    return data
