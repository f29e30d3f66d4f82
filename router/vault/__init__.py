"""Credentials at rest: the home key, the encrypted vault, key rotation and log redaction.

Public API::

    VaultKey, load_key(home), parse_key(text, source=), write_new_key_file(path, key), ENV_KEY
    Vault.open(home, key=None, clock=None) -> Vault: names() kinds() info() get(name) set(name, c)
                                                     delete(name) save()
    Credential = PasswordCredential | OAuthClientSecretCredential | OAuthCertificateCredential;
    CredentialKind; CredentialInfo
    CREDENTIAL_ADAPTER (validates a credential dict), secret_values(credential)
    rotate_key(home, also=[Resealable, ...]) -> VaultKey
    read_generation(root) / raise_generation(root, published=, vault=): the monotonic record that
        detects a deleted newest published version or an older vault.json put back
    SecretRedactor(secrets).install(logger=None) -> uninstall; .add(secret); .scrub(text)
    seal / unseal / tag / check_tag / SealBroken: sealing primitives for other sealed files
"""

from router.vault.credentials import (
    CREDENTIAL_ADAPTER,
    Credential,
    CredentialKind,
    OAuthCertificateCredential,
    OAuthClientSecretCredential,
    PasswordCredential,
    secret_values,
)
from router.vault.generation import Generation, raise_generation, read_generation
from router.vault.key import ENV_KEY, VaultKey, load_key, parse_key, write_new_key_file
from router.vault.names import check_credential_name, is_valid_credential_name
from router.vault.redact import SecretRedactor
from router.vault.rotate import Resealable, Rewriter, pick_key, rotate_key
from router.vault.sealing import SealBroken, Sealed, check_tag, seal, tag, unseal
from router.vault.store import CredentialInfo, Vault

__all__ = [
    "CREDENTIAL_ADAPTER",
    "ENV_KEY",
    "Credential",
    "CredentialInfo",
    "CredentialKind",
    "Generation",
    "OAuthCertificateCredential",
    "OAuthClientSecretCredential",
    "PasswordCredential",
    "Resealable",
    "Rewriter",
    "SealBroken",
    "Sealed",
    "SecretRedactor",
    "Vault",
    "VaultKey",
    "check_credential_name",
    "check_tag",
    "is_valid_credential_name",
    "load_key",
    "parse_key",
    "pick_key",
    "raise_generation",
    "read_generation",
    "rotate_key",
    "seal",
    "secret_values",
    "tag",
    "unseal",
    "write_new_key_file",
]
