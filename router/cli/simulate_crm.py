"""``crm``: serve the Dynamics Web API facade over the embedded CRM, until interrupted.

Point the router's Dynamics deployment, or any OData client, at the printed Web API URL. The service
account's password (NTLM, and the OAuth password grant) comes from ``EMAIL_ROUTER_CRM_PASSWORD`` or a
hidden prompt; an OAuth client's secret from ``EMAIL_ROUTER_CRM_CLIENT_SECRET`` or a prompt. Nothing
secret is ever printed. SIGINT or SIGTERM stops the facade cleanly.
"""

from __future__ import annotations

import os
import signal
import ssl
import threading
from pathlib import Path
from types import FrameType

import click
from pydantic import SecretStr

from router.cli.homes import crm_database
from router.crm.embedded import EmbeddedCrm
from router.crm.facade import CrmFacade, FacadeCredentials
from router.errors import UsageError

PASSWORD_ENV = "EMAIL_ROUTER_CRM_PASSWORD"
SECRET_ENV = "EMAIL_ROUTER_CRM_CLIENT_SECRET"


def _secret(env: str, prompt: str) -> SecretStr:
    value = os.environ.get(env)
    if value is None:
        value = click.prompt(prompt, hide_input=True)
    return SecretStr(value)


def _credentials(account: str | None, client_id: str | None, anonymous_as: str | None) -> FacadeCredentials:
    if not (account or client_id or anonymous_as):
        raise UsageError(
            "the facade needs a way to authenticate callers",
            hint="give --account DOMAIN\\user, --client-id ID or --anonymous-as DOMAIN\\user",
        )
    accounts = {account: _secret(PASSWORD_ENV, f"Password of {account}")} if account else {}
    clients = {client_id: _secret(SECRET_ENV, f"Secret of OAuth client {client_id}")} if client_id else {}
    return FacadeCredentials(ntlm_accounts=accounts, oauth_clients=clients, anonymous_principal=anonymous_as)


def _tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot load the TLS certificate {cert}: {exc}", hint="give a PEM certificate and key"
        ) from exc
    return context


@click.command("crm", short_help="Serve the Dynamics Web API over the embedded CRM.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The embedded CRM database (default: crm.sqlite in the home directory).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=5555, show_default=True, help="0 picks a free port."
)
@click.option("--account", default=None, help="Accept this Windows account (DOMAIN\\user) by NTLM.")
@click.option("--client-id", default=None, help="Accept this OAuth client (client credentials).")
@click.option("--anonymous-as", default=None, help="Serve unauthenticated requests as this CRM user.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None, help="Serve HTTPS.")
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), default=None, help="Key of --tls-cert."
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the Web API URL to this file once listening (for scripts).",
)
@click.pass_context
def crm(
    ctx: click.Context,
    db: str | None,
    host: str,
    port: int,
    account: str | None,
    client_id: str | None,
    anonymous_as: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    ready_file: str | None,
) -> None:
    """Serve the Dynamics Web API over the embedded CRM until interrupted."""
    path = crm_database(ctx, db)
    credentials = _credentials(account, client_id, anonymous_as)
    with (
        EmbeddedCrm(path) as embedded,
        CrmFacade(
            embedded, credentials=credentials, host=host, port=port, ssl_context=_tls(tls_cert, tls_key)
        ) as facade,
    ):
        click.echo(f"CRM Web API facade over {path}")
        click.echo(f"  Web API:     {facade.api_url()}")
        click.echo(f"  OAuth token: {facade.token_url}")
        if ready_file:
            Path(ready_file).write_text(facade.api_url() + "\n", encoding="utf-8")
        _wait_for_signal()
    click.echo("CRM Web API facade stopped")


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            continue
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
