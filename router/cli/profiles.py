"""`email-router profiles`: validate a profiles directory, print the JSON Schema of profiles files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.config.loader import load_profiles
from router.config.profileset import ProfileFile, ProfileSet
from router.config.risks import risks
from router.config.transport import ews_switch_off_warnings
from router.errors import KeyFileError
from router.vault.credentials import CredentialKind
from router.vault.key import ENV_KEY
from router.vault.store import Vault

PROFILES_DIR_ENV = "EMAIL_ROUTER_PROFILES"

profiles_dir_argument = click.argument(
    "directory", required=False, default="profiles", envvar=PROFILES_DIR_ENV,
    type=click.Path(file_okay=False, path_type=Path))


@click.group("profiles")
def profiles_group() -> None:
    """Check profiles before publishing them."""


@profiles_group.command("validate", short_help="Validate a profiles directory.")
@profiles_dir_argument
@click.option("--no-vault", is_flag=True, help="Do not check credential references against the vault.")
@pass_app
def validate_command(app: AppContext, directory: Path, no_vault: bool) -> None:
    """Validate every *.toml file in DIRECTORY (default: profiles/, or $EMAIL_ROUTER_PROFILES).

    Every problem is listed with its file and key path; the exit code is 3 if there is any.
    Credential references are checked against the vault when the home has a key.
    """
    kinds, note = (None, "credentials not checked (--no-vault)") if no_vault else _vault_kinds(app)
    profile_set = load_profiles(directory, credentials=kinds)
    click.echo(f"OK: {directory}: {len(profile_set.profiles)} profiles, {len(profile_set.deployments)} "
               f"deployments, {len(profile_set.mailboxes())} mailboxes; {note}")
    warn_ews_switch_off(profile_set)
    warn_risks(profile_set)


def warn_ews_switch_off(profile_set: ProfileSet) -> None:
    """Warn (on stderr) about every Exchange Online profile still on EWS, with the days left."""
    for line in ews_switch_off_warnings(profile_set, SystemClock().now().date()):
        click.echo(line, err=True)


def warn_risks(profile_set: ProfileSet) -> None:
    """Print a warning (stderr) for each risky opt-in the profile set uses."""
    for risk in risks(profile_set):
        click.echo(f"WARNING: {risk}", err=True)


@profiles_group.command("schema", short_help="Print the JSON Schema of a profiles file.")
def schema_command() -> None:
    """Print the JSON Schema of a profiles file, for editors that complete and check TOML."""
    schema = ProfileFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "email-router profiles file"
    click.echo(json.dumps(schema, indent=2))


def _vault_kinds(app: AppContext) -> tuple[dict[str, CredentialKind] | None, str]:
    try:
        vault = Vault.open(app.home)
    except KeyFileError as exc:
        if app.home.key_file.exists() or os.environ.get(ENV_KEY, "").strip():
            raise
        return None, f"credentials not checked ({exc.message}: run `email-router init`)"
    return vault.kinds(), f"credentials checked against {vault.path}"
