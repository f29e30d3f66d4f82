"""`email-router init`: create the home directory, its key and an empty vault."""

from __future__ import annotations

import os

import click

from router.cli.context import AppContext, pass_app
from router.errors import KeyFileError, UsageError
from router.home import tighten
from router.vault.atomic import PRIVATE_DIR_MODE, ensure_private_dir, os_errors_as
from router.vault.key import ENV_KEY, VaultKey, load_key, write_new_key_file
from router.vault.store import write_vault_file


@click.command("init", short_help="Create the home, its key and an empty vault.")
@pass_app
def init_command(app: AppContext) -> None:
    """Create the home directory (mode 0700), a new key (mode 0600) and an empty vault.

    With EMAIL_ROUTER_KEY set, that key is used and no key file is written.
    """
    home = app.home
    created = not home.root.exists()
    with os_errors_as(UsageError, home.root, "create the home directory"):
        ensure_private_dir(home.root)
        if created:
            os.chmod(home.root, PRIVATE_DIR_MODE)
        changes = tighten(home.private_paths())
        for change in changes:
            click.echo(f"tightened: {change}")
        if changes:
            click.echo("others could read these until now; if the key or vault was among them, run "
                       "`email-router credentials rotate-key`")
        key = _new_or_env_key(app)
        if not home.vault_file.exists():
            write_vault_file(home.vault_file, key, {})
        ensure_private_dir(home.published_dir)
    click.echo(f"initialised the email-router home at {home.root}")
    click.echo(f"  key:   {key.source}  (back it up: without it the vault cannot be opened)")
    click.echo(f"  vault: {home.vault_file}")
    click.echo("next: `email-router credentials set NAME`, `email-router profiles validate profiles/`, "
               "`email-router publish profiles/`")


def _new_or_env_key(app: AppContext) -> VaultKey:
    home = app.home
    if os.environ.get(ENV_KEY, "").strip():
        return load_key(home)
    if home.vault_file.exists() and not home.key_file.exists():
        raise KeyFileError(
            "a vault exists but its key file is missing", path=str(home.key_file),
            hint=f"restore the key file from your backup (or set {ENV_KEY}); a new key could not open "
            "the existing vault")
    key = VaultKey.generate()
    write_new_key_file(home.key_file, key)
    return VaultKey(key.secret, source=str(home.key_file))
