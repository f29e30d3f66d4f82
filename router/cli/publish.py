"""`email-router publish`: validate the profiles and publish them as the next version."""

from __future__ import annotations

from pathlib import Path

import click

from router.cli.context import AppContext, pass_app
from router.cli.profiles import profiles_dir_argument, warn_ews_switch_off, warn_risks
from router.config.publish import publish
from router.config.published import load_published


@click.command("publish", short_help="Validate the profiles and publish the next version.")
@profiles_dir_argument
@pass_app
def publish_command(app: AppContext, directory: Path) -> None:
    """Validate DIRECTORY (default: profiles/) against the vault and publish it as a new version.

    The running service notices the new version without a restart.
    """
    version = publish(app.home, directory)
    config = load_published(app.home, version)
    click.echo(f"published version {version} from {directory}: {len(config.profiles.mailboxes())} "
               f"mailboxes, {len(config.credential_kinds)} credentials. The service picks it up within "
               f"{config.profiles.settings.config_refresh_period_seconds:g} s.")
    warn_ews_switch_off(config.profiles)
    warn_risks(config.profiles)
