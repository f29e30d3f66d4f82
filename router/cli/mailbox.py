"""`email-router mailbox`: act on one mailbox's health; ``resume`` lifts a stop an admin has fixed."""

from __future__ import annotations

import click

from router.cli.context import AppContext, pass_app
from router.cli.homes import open_existing_store
from router.state import Direction

DIRECTIONS = {"incoming": (Direction.INCOMING,), "outgoing": (Direction.OUTGOING,),
              "both": (Direction.INCOMING, Direction.OUTGOING)}


@click.group("mailbox", short_help="Resume a stopped mailbox.")
def mailbox_group() -> None:
    """Act on the health of mailboxes (see `email-router status`)."""


@mailbox_group.command("resume", short_help="Resume mailboxes stopped after a permanent error.")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@click.option("--direction", type=click.Choice(list(DIRECTIONS)), default="both", show_default=True,
              help="Which direction of the mailbox to resume.")
@pass_app
def resume_command(app: AppContext, addresses: tuple[str, ...], direction: str) -> None:
    """Resume mailboxes stopped after a permanent error, once the cause is fixed.

    A running service starts them again within ConfigRefreshPeriod; if the cause is not fixed they stop
    again and the alert counts one more occurrence. Publishing a new version that changes a mailbox, or a
    passing `email-router test-access`, resumes it too.
    """
    with open_existing_store(app.home) as store:
        for address in addresses:
            mailbox = address.strip().lower()
            resumed = []
            for way in DIRECTIONS[direction]:
                if store.health.get(mailbox, way).stopped:
                    store.health.resume(mailbox, way)
                    resumed.append(way.value)
            if resumed:
                click.echo(f"{mailbox}: {' and '.join(resumed)} resumed; a running service starts it again "
                           "within ConfigRefreshPeriod")
            else:
                click.echo(f"{mailbox}: not stopped ({direction}); nothing to resume")
