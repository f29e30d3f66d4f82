"""`email-router simulate`: run the EWS simulator, show Send As / On Behalf, and drive a running one.

The group is open for extension: other simulators (e.g. ``simulate crm``) add their own commands.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import threading
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from router.cli.context import AppContext, pass_app
from router.errors import UsageError
from router.simulator.client import ControlClient, write_control_file
from router.simulator.config import ServerConfig
from router.simulator.controller import Controller
from router.simulator.demo import run_send_demo
from router.simulator.versions import ServerBuild

SAMPLE_SEED = "sample_seed.toml"


def sample_seed() -> Path:
    """The packaged demo organisation."""
    return Path(str(files("router.simulator").joinpath(SAMPLE_SEED)))


def _state_dir(app: AppContext, state_dir: str | None) -> Path:
    return Path(state_dir) if state_dir else app.home.simulator_dir


@click.group()
def simulate() -> None:
    """Simulators for testing without Exchange or a CRM."""


@simulate.command("ews")
@click.option(
    "--seed",
    "seed",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Seed file (TOML or JSON); default: the packaged sample organisation.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Port (0 = any free port).")
@click.option(
    "--plain-http", is_flag=True, help="Serve plain HTTP instead of HTTPS (never on a shared network)."
)
@click.option(
    "--build",
    default="15.2.2562.17",
    show_default=True,
    help="Server build reported in ServerVersionInfo (Exchange Server SE by default).",
)
@click.option("--state-dir", default=None, help="Where certificates and control.json live (default: home).")
@click.option(
    "--max-streaming-connections",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Streaming connections one account may hold open (Exchange's throttling policy; 0: no limit).",
)
@pass_app
def ews(
    app: AppContext,
    seed: str | None,
    host: str,
    port: int,
    plain_http: bool,
    build: str,
    state_dir: str | None,
    max_streaming_connections: int,
) -> None:
    """Run the EWS simulator until interrupted (Ctrl-C)."""
    try:
        server_build = ServerBuild.parse(build)
    except ValueError as exc:
        raise UsageError(str(exc), hint="give --build like 15.2.2562.17") from exc
    token = secrets.token_urlsafe(24)
    config = ServerConfig(build=server_build, control_token=token,
                          max_streaming_connections=max_streaming_connections or None)
    directory = _state_dir(app, state_dir)
    controller = Controller(
        config=config,
        host=host,
        port=port,
        state_dir=directory,
        seed=Path(seed) if seed else sample_seed(),
        tls=not plain_http,
    )
    controller.start()
    ca = controller.tls_files.ca_file if controller.tls_files else None
    control_file = write_control_file(directory, controller.base_url, ca, token)
    click.echo(f"EWS endpoint:   {controller.url}")
    click.echo(f"Autodiscover:   {controller.autodiscover_url}")
    click.echo(f"OAuth token:    {controller.token_url}")
    click.echo(f"Graph:          {controller.graph_url}  (authority {controller.authority()})")
    click.echo(f"CA certificate: {ca or '(plain HTTP)'}")
    click.echo(f"Control API:    {controller.base_url}/_control/ (token in {control_file})")
    click.echo(f"Seed:           {seed or sample_seed()}")
    click.echo("Press Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        control_file.unlink(missing_ok=True)


@simulate.command("send", short_help="Send one message; show what the recipient sees.")
@click.option("--as", "mode", flag_value="as", help="The caller holds Send As on the principal.")
@click.option("--on-behalf", "mode", flag_value="on-behalf", help="The caller holds Send On Behalf only.")
@click.option("--none", "mode", flag_value="none", help="The caller holds FullAccess but no send right.")
@click.option("--from", "principal", default="queue@contoso.com", show_default=True, help="The From mailbox.")
@click.option("--caller", default="svc-crm@contoso.com", show_default=True, help="Who logs on and sends.")
@click.option(
    "--to", "to", default="bob@contoso.com", show_default=True, help="Recipient (internal or external)."
)
@click.option("--subject", default="Your case CAS-01042", show_default=True)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Seed file; default: the packaged sample organisation.",
)
def send(mode: str | None, principal: str, caller: str, to: str, subject: str, seed: str | None) -> None:
    """Send one message and show what the recipient sees (From, Sender, "X on behalf of Y")."""
    if mode is None:
        raise UsageError("choose what right the caller holds", hint="add --as, --on-behalf or --none")
    result = run_send_demo(
        mode,
        principal=principal,
        caller=caller,
        to=to,
        subject=subject,
        seed=Path(seed) if seed else sample_seed(),
    )
    click.echo(
        f"Right held by {caller} on {principal}: "
        f"{ {'as': 'Send As', 'on-behalf': 'Send On Behalf', 'none': 'FullAccess only'}[mode] }"
    )
    if result.error:
        click.echo(f"Exchange refused the submission: {result.error}")
        if result.left_in:
            click.echo(f"The message was left in {result.left_in}, as Exchange does.")
        return
    click.echo(f"From:   {result.from_header}")
    click.echo(
        f"Sender: {result.sender_header or '(none: the recipient cannot tell it was not ' + principal + ')'}"
    )
    click.echo(f"Shown as: {result.rendering}")
    click.echo("\nHeaders the recipient received:\n" + result.headers)


def _client(app: AppContext, state_dir: str | None) -> ControlClient:
    return ControlClient.from_state_dir(_state_dir(app, state_dir))


STATE_OPTION = click.option("--state-dir", default=None, help="State directory of the running simulator.")


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@simulate.command("grant")
@click.argument("right", type=click.Choice(["full_access", "send_as", "send_on_behalf", "impersonation"]))
@click.option("--mailbox", default="", help="The mailbox the right is on (not for impersonation).")
@click.option("--to", "to", required=True, help="The user receiving the right.")
@STATE_OPTION
@pass_app
def grant(app: AppContext, right: str, mailbox: str, to: str, state_dir: str | None) -> None:
    """Grant a right on a running simulator."""
    _client(app, state_dir).call("POST", "grant", {"right": right, "mailbox": mailbox, "to": to})
    click.echo(f"granted {right} on {mailbox or 'all mailboxes'} to {to}")


@simulate.command("revoke")
@click.argument("right", type=click.Choice(["full_access", "send_as", "send_on_behalf", "impersonation"]))
@click.option("--mailbox", default="", help="The mailbox the right is on.")
@click.option("--to", "to", required=True, help="The user losing the right.")
@STATE_OPTION
@pass_app
def revoke(app: AppContext, right: str, mailbox: str, to: str, state_dir: str | None) -> None:
    """Revoke a right on a running simulator."""
    _client(app, state_dir).call("POST", "revoke", {"right": right, "mailbox": mailbox, "to": to})
    click.echo(f"revoked {right} on {mailbox or 'all mailboxes'} from {to}")


@simulate.command("inject", short_help="Deliver inbound mail into a simulator mailbox.")
@click.option("--mailbox", required=True, help="Recipient mailbox.")
@click.option("--eml", type=click.Path(exists=True, dir_okay=False), default=None, help="An RFC 822 file.")
@click.option("--from", "from_", default="customer@fabrikam.com", show_default=True)
@click.option("--subject", default="Test message")
@click.option("--body", default="Hello.")
@STATE_OPTION
@pass_app
def inject(
    app: AppContext, mailbox: str, eml: str | None, from_: str, subject: str, body: str, state_dir: str | None
) -> None:
    """Deliver inbound mail into a mailbox of a running simulator (Inbox rules run)."""
    payload: dict[str, Any] = {"mailbox": mailbox, "from": from_, "subject": subject, "body": body}
    if eml:
        payload["eml_base64"] = base64.b64encode(Path(eml).read_bytes()).decode()
    _echo(_client(app, state_dir).call("POST", "inject", payload))


@simulate.command("mailbox", short_help="List a folder's messages on a running simulator.")
@click.argument("address")
@click.option("--folder", default="inbox", show_default=True, help="Folder path, e.g. inbox or Inbox/CRM.")
@STATE_OPTION
@pass_app
def mailbox(app: AppContext, address: str, folder: str, state_dir: str | None) -> None:
    """List a folder's messages on a running simulator (with their MIME)."""
    _echo(_client(app, state_dir).call("GET", "mailbox", params={"address": address, "folder": folder}))


@simulate.command("journal")
@STATE_OPTION
@pass_app
def journal(app: AppContext, state_dir: str | None) -> None:
    """Show the outbound journal: what external recipients received."""
    _echo(_client(app, state_dir).call("GET", "journal"))


@simulate.command("fault")
@click.argument(
    "kind",
    type=click.Choice(["server_busy", "http_500", "http_503", "http_401", "slow", "drop", "malformed"]),
)
@click.option("--operation", default="*", show_default=True, help="EWS operation, or * for all.")
@click.option("--count", type=int, default=None, help="Apply to the next N requests (default 1).")
@click.option("--rate", type=float, default=None, help="Apply to this fraction of requests instead.")
@click.option("--back-off-ms", type=int, default=30000, show_default=True, help="For server_busy.")
@click.option("--delay", type=float, default=1.0, show_default=True, help="Seconds, for slow.")
@STATE_OPTION
@pass_app
def fault(
    app: AppContext,
    kind: str,
    operation: str,
    count: int | None,
    rate: float | None,
    back_off_ms: int,
    delay: float,
    state_dir: str | None,
) -> None:
    """Script a fault on a running simulator."""
    _echo(
        _client(app, state_dir).call(
            "POST",
            "faults",
            {
                "kind": kind,
                "operation": operation,
                "count": count,
                "rate": rate,
                "back_off_ms": back_off_ms,
                "delay_seconds": delay,
            },
        )
    )


@simulate.command("clear-faults")
@STATE_OPTION
@pass_app
def clear_faults(app: AppContext, state_dir: str | None) -> None:
    """Remove every scripted fault."""
    _client(app, state_dir).call("DELETE", "faults")
    click.echo("faults cleared")


@simulate.command("bench", short_help="Measure the simulator's own CPU cost.")
@click.option("--items", default=1000, show_default=True, help="Messages fetched with GetItem.")
@click.option("--batch", default=100, show_default=True, help="Item ids per GetItem.")
@click.option("--sends", default=300, show_default=True, help="Messages sent with CreateItem.")
def bench(items: int, batch: int, sends: int) -> None:
    """Measure the simulator's own CPU cost per fetched and per sent message (no sockets, no client)."""
    from router.simulator.bench import bench_fetch, bench_send

    for result in (bench_fetch(items, batch, 8192), bench_fetch(items, batch, 51200), bench_send(sends)):
        click.echo(f"{result.name:45} {result.per_second:9.0f}/s  {result.micros_each:8.0f} µs each")
