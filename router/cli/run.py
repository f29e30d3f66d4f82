"""`email-router run`: the router service in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from router.cli.context import AppContext, pass_app
from router.clock import SystemClock
from router.console.serve import console_mount
from router.runtime.metrics import Metrics
from router.service.assembly import router_service
from router.service.logs import LogFormat, ServiceLogging
from router.service.service import DEFAULT_GRACE_SECONDS, load_running_config
from router.service.status_server import StatusServer

DEFAULT_STATUS_PORT = 9468


@click.command("run", short_help="Run the router service until SIGTERM or Ctrl-C.")
@click.option("--status-host", default="127.0.0.1", show_default=True,
              help="Address of the status endpoint (/metrics, /healthz, /readyz); use 0.0.0.0 only when "
              "Prometheus scrapes from another host.")
@click.option("--status-port", type=click.IntRange(0, 65535), default=DEFAULT_STATUS_PORT, show_default=True,
              help="Port of the status endpoint; 0 picks a free one (printed at start).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="PEM certificate (chain) for HTTPS on the status address; needed to serve the web "
              "console on an address other than loopback.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="PEM private key of --tls-cert (when not in the same file).")
@click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_GRACE_SECONDS, show_default=True,
              help="Seconds runs in flight may take to finish after SIGTERM / Ctrl-C.")
@click.option("--log-format", type=click.Choice([f.value for f in LogFormat]), default=LogFormat.TEXT.value,
              show_default=True, help="Log lines as logfmt `key=value` text or as JSON objects.")
@click.option("--log-stderr/--no-log-stderr", default=True, show_default=True,
              help="Also write log lines to stderr (the journal under systemd), besides the log file.")
@click.option("--instance", metavar="NAME", envvar="EMAIL_ROUTER_INSTANCE",
              help="Name of this router instance (default: this host and home); a restarted instance "
              "takes back its earlier run's claims at once. Give each instance sharing a state database "
              "its own name.")
@pass_app
def run_command(app: AppContext, status_host: str, status_port: int, tls_cert: Path | None,
                tls_key: Path | None, grace: float, log_format: str, log_stderr: bool,
                instance: str | None) -> None:
    """Run the router: serve the mailboxes of the newest published configuration until stopped.

    A newly published version is picked up without a restart. The first SIGTERM or Ctrl-C stops
    scheduling and lets work in flight finish for up to --grace seconds; a second one exits at once.
    The log goes to LogFile from the settings (default: logs/email-router.log in the home).
    """
    config = load_running_config(app.home)
    logs = ServiceLogging(app.home, config.profiles.settings, secrets=config.secret_values(),
                          fmt=LogFormat(log_format), stream=sys.stderr if log_stderr else None)
    try:
        clock, metrics = SystemClock(), Metrics()
        service = router_service(app.home, clock, metrics, logs=logs, instance=instance)
        with console_mount(app.home, clock, metrics, service, host=status_host, tls_cert=tls_cert,
                           tls_key=tls_key) as mount, \
                StatusServer(metrics, health=service.health, ready=service.ready, host=status_host,
                             port=status_port, console=mount.console,
                             ssl_context=mount.ssl_context) as status:
            click.echo(f"email-router running configuration version {config.version}; status at "
                       f"{status.url}; log in {logs.path}. Stop with Ctrl-C or SIGTERM.")
            click.echo(f"warning: {mount.note}" if mount.note else f"console at {status.url}/login", err=True)
            drained = service.run_until_signalled(grace, config)
        click.echo("email-router stopped." if drained else
                   f"email-router stopped; work still running after {grace:g} s was abandoned.")
    finally:
        logs.close()
