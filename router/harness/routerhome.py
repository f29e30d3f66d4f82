"""A router home prepared the way an admin prepares one, through the `email-router` command line.

``RouterHome`` runs the real commands (``init``, ``credentials set --stdin``, ``profiles validate``,
``publish``, ``crm compose``) so the demo, benchmark and soak exercise exactly what an admin types.
They run in this process through click's runner, with their own standard streams and without the
caller's ``EMAIL_ROUTER_KEY`` / ``EMAIL_ROUTER_HOME``: the same code as a shell would run, without
a second of interpreter start-up per command. ``prepare`` does the whole set-up for an
``Organisation`` served by a running simulator; ``echo`` (when given) receives each command and its
output, for the demo's narration. ``command`` gives the subprocess command line (for `run`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from click.testing import CliRunner

from router.cli.main import cli
from router.crm.embedded import EmbeddedCrm
from router.crm.gateway import RecordRef
from router.errors import HarnessError
from router.harness.org import (
    CREDENTIAL,
    GRAPH_CREDENTIAL,
    GRAPH_SECRET,
    SERVICE,
    SERVICE_PASSWORD,
    Organisation,
)
from router.home import Home

Echo = Callable[[str, str], None]
CALLER_ONLY = ("EMAIL_ROUTER_KEY", "EMAIL_ROUTER_HOME")
"""Environment variables of the caller's shell that must not leak into the prepared home."""


class RouterHome:
    """A home directory driven through `python -m router --home ROOT ...`."""

    def __init__(self, root: Path, *, python: str = sys.executable, echo: Echo | None = None) -> None:
        self.root = root
        self.home = Home(root)
        self.profiles_dir = root.parent / f"{root.name}-profiles"
        self._python = python
        self._echo = echo

    def command(self, *args: str) -> list[str]:
        """The full command line of `email-router --home ROOT ARGS`."""
        return [self._python, "-m", "router", "--home", str(self.root), *args]

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run one `email-router` command; its output, or HarnessError with that output."""
        done = CliRunner().invoke(cli, ["--home", str(self.root), *args], input=stdin,
                                  env={name: None for name in CALLER_ONLY})
        output = done.output.strip()
        if self._echo is not None:
            self._echo("email-router " + " ".join(args), output)
        if done.exit_code != 0:
            problem = output or repr(done.exception)
            raise HarnessError(f"`email-router {' '.join(args)}` failed with exit code {done.exit_code}:\n"
                               f"{problem}", path=str(self.root), hint="read the command's output above")
        return output

    def prepare(self, org: Organisation, ews_url: str, ca_file: Path, settings: dict[str, Any] | None = None,
                *, read_seconds: float = 30, graph_base: str | None = None,
                graph_only: bool = False) -> dict[str, RecordRef]:
        """init, the service account's credential, the CRM's records, profiles, validate, publish;
        ``graph_base``: profiles over Microsoft Graph at that simulator (the app's secret in the vault)."""
        self.run("init")
        self.run("credentials", "set", CREDENTIAL, "--username", SERVICE, "--stdin",
                 stdin=SERVICE_PASSWORD + "\n")
        if graph_base is not None:
            self.run("credentials", "set", GRAPH_CREDENTIAL, "--kind", "oauth_client_secret", "--stdin",
                     stdin=GRAPH_SECRET + "\n")
        with EmbeddedCrm(self.home.crm_db) as crm:
            records = org.seed_crm(crm)
        self.write_profiles(org.profiles(ews_url, ca_file, settings, read_seconds=read_seconds,
                                         graph_base=graph_base, graph_only=graph_only))
        self.run("profiles", "validate", str(self.profiles_dir))
        self.run("publish", str(self.profiles_dir))
        return records

    def write_profiles(self, document: dict[str, Any]) -> Path:
        """Write the profiles directory (one ``router.toml``) and return its path."""
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        path = self.profiles_dir / "router.toml"
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        return path


def router_environment() -> dict[str, str]:
    """The environment for router subprocesses: unbuffered output, and no key from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_ONLY}
    env["PYTHONUNBUFFERED"] = "1"
    return env
