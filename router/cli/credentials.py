"""`email-router credentials`: set, list, delete credentials; rotate the home key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import SecretStr, ValidationError

from router.cli.context import AppContext, pass_app
from router.config.publish import PublishedResealer
from router.config.published import latest_version, load_published, published_versions
from router.errors import RouterError, UsageError
from router.vault.credentials import (
    Credential,
    CredentialKind,
    OAuthCertificateCredential,
    OAuthClientSecretCredential,
    PasswordCredential,
)
from router.vault.names import check_credential_name
from router.vault.rotate import rotate_key
from router.vault.store import Vault


@click.group("credentials")
def credentials_group() -> None:
    """Manage the encrypted credentials that profiles name."""


@credentials_group.command("set", short_help="Store a credential, encrypted (prompted, never echoed).")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in CredentialKind]), default="password",
              show_default=True,
              help="password (user name + password), oauth_client_secret or oauth_certificate.")
@click.option("--username", help="Account name for a password credential (prompted when missing).")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the secret from standard input (first line) instead of prompting.")
@click.option("--certificate-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="oauth_certificate: the PEM certificate uploaded to the app registration.")
@click.option("--private-key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="oauth_certificate: its unencrypted PEM private key (delete the file once stored).")
@pass_app
def set_command(app: AppContext, name: str, kind: str, username: str | None, from_stdin: bool,
                certificate_file: Path | None, private_key_file: Path | None) -> None:
    """Store the credential NAME, encrypted; the secret is prompted without echo."""
    check_credential_name(name)
    vault = Vault.open(app.home)
    credential: Credential
    if kind == CredentialKind.OAUTH_CERTIFICATE:
        credential = _certificate(certificate_file, private_key_file)
    elif certificate_file or private_key_file:
        raise UsageError("--certificate-file and --private-key-file apply to oauth_certificate only",
                         hint="pass --kind oauth_certificate, or drop them")
    elif kind == CredentialKind.PASSWORD:
        user = (username if username is not None else click.prompt("user name")).strip()
        if not user:
            raise UsageError("the user name is empty", hint="pass --username or answer the prompt")
        credential = PasswordCredential(username=user, password=_read_secret(from_stdin))
    else:
        if username:
            raise UsageError("--username applies to password credentials only",
                             hint="drop --username for an oauth_client_secret credential")
        credential = OAuthClientSecretCredential(client_secret=_read_secret(from_stdin))
    vault.set(name, credential)
    click.echo(f"credential {name!r} ({kind}) stored in {vault.path}; publish again for the service "
               "to use it")


def _certificate(certificate_file: Path | None, private_key_file: Path | None) -> Credential:
    if certificate_file is None or private_key_file is None:
        raise UsageError("an oauth_certificate credential needs --certificate-file and --private-key-file",
                         hint="give the PEM certificate registered on the app and its private key")
    try:
        return OAuthCertificateCredential(
            certificate=certificate_file.read_text(encoding="ascii"),
            private_key=SecretStr(private_key_file.read_text(encoding="ascii")))
    except (OSError, UnicodeDecodeError, ValidationError) as exc:
        raise UsageError(f"cannot read the certificate {certificate_file} or its key: {type(exc).__name__}",
                         hint="both must be PEM text files (-----BEGIN CERTIFICATE----- ...)") from None


@credentials_group.command("list")
@pass_app
def list_command(app: AppContext) -> None:
    """List credential names and kinds (never their values)."""
    infos = Vault.open(app.home).info()
    if not infos:
        click.echo("no credentials yet: add one with `email-router credentials set NAME`")
        return
    width = max(len(i.name) for i in infos)
    click.echo(f"{'NAME':<{width}}  {'KIND':<19}  UPDATED")
    for info in infos:
        updated = info.updated_at.isoformat(timespec="seconds") if info.updated_at else "-"
        click.echo(f"{info.name:<{width}}  {info.kind.value:<19}  {updated}")


@credentials_group.command("delete")
@click.argument("name")
@pass_app
def delete_command(app: AppContext, name: str) -> None:
    """Delete the credential NAME from the vault."""
    Vault.open(app.home).delete(name)
    click.echo(f"credential {name!r} deleted")
    latest = latest_version(app.home)
    if latest is not None and _published_uses(app, latest, name):
        click.echo(f"note: published version {latest} still carries {name!r}; the service keeps using "
                   "it until you publish again")


@credentials_group.command("rotate-key", short_help="Re-encrypt the vault and published versions anew.")
@pass_app
def rotate_key_command(app: AppContext) -> None:
    """Create a new home key and re-encrypt the vault and every published version with it.

    The old key stops working. If interrupted, run it again to finish.
    """
    versions = len(published_versions(app.home))
    resealer = PublishedResealer(app.home)
    key = rotate_key(app.home, also=[resealer])
    click.echo(f"new key written to {key.source}; the vault and {versions - len(resealer.skipped)} published "
               "version(s) are re-encrypted and the old key no longer opens them. Back up the new key.")
    for skipped in resealer.skipped:
        click.echo(f"skipped (unreadable, left as it is): {skipped}", err=True)


def _read_secret(from_stdin: bool) -> SecretStr:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
    else:
        line = click.prompt("secret", hide_input=True, confirmation_prompt=True, prompt_suffix=" (hidden): ")
    if not line:
        raise UsageError("the secret is empty", hint="give the secret on standard input or at the prompt")
    return SecretStr(line)


def _published_uses(app: AppContext, version: int, name: str) -> bool:
    try:
        return name in load_published(app.home, version).credential_kinds
    except RouterError:
        return False
