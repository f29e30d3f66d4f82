"""`email-router published`: list, show and roll back published configurations."""

from __future__ import annotations

import click

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.config.publish import list_published, rollback
from router.config.published import PublishedConfig, latest_version, load_published
from router.config.writer import to_toml
from router.errors import StateStoreError
from router.home import Home
from router.state import StateStore

version_argument = click.argument("version", type=click.IntRange(min=1))


@click.group("published", short_help="List, show or roll back published versions.")
def published_group() -> None:
    """Inspect published configurations; the newest one is what the service runs."""


@published_group.command("list", short_help="List every published version.")
@pass_app
def list_command(app: AppContext) -> None:
    """List every published version, oldest first, marking the newest (the one a service loads) and
    the one a running service last reported in its mailbox directory, with when it did."""
    summaries = list_published(app.home)
    reported = _reported_version(app.home)
    if not summaries:
        click.echo("nothing published yet: run `email-router publish [PROFILES_DIR]`")
        return
    click.echo(f"{'VERSION':>7}  {'PUBLISHED':<25}  {'MAILBOXES':>9}  SOURCE")
    for s in summaries:
        if s.problem:
            click.echo(f"{s.version:>7}  REFUSED: {s.problem}")
            continue
        notes = [f"rollback of {s.rolled_back_from}"] if s.rolled_back_from else []
        notes += ["newest"] if s is summaries[-1] else []
        if reported is not None and reported[0] == s.version:
            notes.append(f"a running service reported it at {reported[1]}")
        suffix = f"  ({', '.join(notes)})" if notes else ""
        click.echo(f"{s.version:>7}  {s.published_at:<25}  {s.mailboxes:>9}  {s.source}{suffix}")


def _reported_version(home: Home) -> tuple[int, str] | None:
    """The configuration version a running service last reported (directory refresh), and when."""
    if not home.state_db.exists():
        return None
    try:
        with StateStore.open_home(home, SystemClock()) as store:
            rows = [r for r in store.directory.all() if r.config_version is not None]
    except StateStoreError:
        return None
    newest = max(rows, key=lambda r: r.refreshed_at, default=None)
    if newest is None or newest.config_version is None:
        return None
    return newest.config_version, newest.refreshed_at.isoformat(timespec="seconds")


@published_group.command("show", short_help="Show a published version as TOML (no secrets).")
@click.argument("version", type=click.IntRange(min=1), required=False)
@pass_app
def show_command(app: AppContext, version: int | None) -> None:
    """Show published VERSION (default: the newest) as TOML; credentials by name and kind only."""
    click.echo(render(load_published(app.home, version), latest_version(app.home)), nl=False)


@published_group.command("rollback")
@version_argument
@pass_app
def rollback_command(app: AppContext, version: int) -> None:
    """Publish the content of VERSION again, as the newest version."""
    new = rollback(app.home, version)
    click.echo(f"version {version} republished as version {new}; the service switches to it shortly")


def render(config: PublishedConfig, newest: int | None) -> str:
    """The text of `published show`: a header, the credentials it carries, the configuration as TOML."""
    lines = [f"# published version {config.version}{' (newest)' if config.version == newest else ''}",
             f"# published at {config.published_at.isoformat(timespec='seconds')} from {config.source}"]
    if config.rolled_back_from:
        lines.append(f"# rollback of version {config.rolled_back_from}")
    lines.append("# credentials (encrypted, values never shown):")
    kinds = sorted(config.credential_kinds.items())
    lines += [f"#   {name}: {kind.value}" for name, kind in kinds] or ["#   none"]
    return "\n".join(lines) + "\n\n" + to_toml(config.profiles)

