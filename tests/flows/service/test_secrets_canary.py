"""Canary secrets through the whole running router: `email-router run` at LogLevel 3 in a process of its
own, a mailbox that works and one whose password is wrong, then the admin's commands. The canaries are
the service account's password (it works, so it crosses the wire on every request), a user's wrong
password (it fails, so it walks every error path: the lane's stop, its alert, the CRM's mailbox error,
Test Access) and the CRM's password (the deployment reaches the CRM through the Dynamics adapter).
None may appear in any output, log line, status endpoint answer or file of the home, nor may the
Basic authorization headers they make.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from router.crm.codes import EmailStatus, FilteringMethod
from router.crm.facade import CrmFacade
from router.state import Direction as StateDirection
from router.vault import PasswordCredential, Vault
from tests.flows.kit import Contoso
from tests.support.crm import SERVICE_PASSWORD, draft_email
from tests.support.ews_simulator import ALICE, BOB

pytestmark = [pytest.mark.flow, pytest.mark.slow]

ROUTER = "router-svc@contoso.com"
CANARY = "canary-SVC-5e0b9d21"
WRONG = "canary-BOB-a7c34f08"
CAROL = "carol@fabrikam.com"
PATIENCE = 30.0
"""Longest wait for the service process to do something; never reached when it works."""

SETTINGS = """
[settings]
max_threads = 4
scheduling_period_seconds = 0.2
config_refresh_period_seconds = 0.2
log_level = 3
"""


def forbidden() -> list[str]:
    """Every form a leaked canary could take: itself, and the Basic authorization headers it makes."""
    pairs = [f"{ROUTER}:{CANARY}", f"{BOB}:{WRONG}"]
    return [CANARY, WRONG, SERVICE_PASSWORD] + [base64.b64encode(p.encode()).decode() for p in pairs]


def bindings(org: Contoso) -> str:
    """Bob reads his own mailbox with his own (wrong) password; Alice and the queue come from Load Data."""
    return (f'[profiles.own]\ndirection = "incoming"\nserver_type = "exchange_2019"\n'
            f'ews_url = "{org.sim.url}"\nauth = "basic"\ncredentials = "user_specified"\n'
            f'tls = {{ ca_bundle = "{org.sim.ca_file}" }}\n\n'
            f'[[users]]\naddress = "{BOB}"\nincoming_profile = "own"\ncredential = "bob"\noutgoing = false\n')


@pytest.fixture
def org(contoso: Contoso, facade: CrmFacade) -> Contoso:
    contoso.sim.control.seed({"users": [{"address": ROUTER, "name": "Router Service", "password": CANARY,
                                         "application_impersonation": True}]})
    for right in ("full_access", "send_as"):
        contoso.sim.control.grant(right, ALICE, ROUTER)
    vault = Vault.open(contoso.home)
    vault.set("svc", PasswordCredential(username=ROUTER, password=SecretStr(CANARY)))
    vault.set("bob", PasswordCredential(username=BOB, password=SecretStr(WRONG)))
    contoso.crm.add_customer("contact", "Carol Clark", CAROL)
    alice = contoso.crm.find_user(ALICE)
    assert alice is not None
    contoso.crm.set_filtering(alice, FilteringMethod.ALL)
    contoso.through_dynamics(facade)
    contoso.publish(bindings(contoso), settings=SETTINGS)
    return contoso


def command(org: Contoso, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `email-router` in a process of its own against the org's home."""
    return subprocess.run([sys.executable, "-m", "router", "--home", str(org.home.root), *args],
                          capture_output=True, text=True, timeout=PATIENCE, env=environment(),
                          check=False)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_ROUTER_")}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


@pytest.fixture
def service(org: Contoso, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`email-router run` on an ephemeral status port; yields the process and its status URL."""
    out, err = (tmp_path / "run.out").open("w+"), (tmp_path / "run.err").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "router", "--home", str(org.home.root), "run", "--status-port", "0",
         "--grace", "10"], stdout=out, stderr=err, text=True, env=environment())
    try:
        eventually(lambda: "status at" in (tmp_path / "run.out").read_text() or process.poll() is not None,
                   "the service to start")
        found = re.search(r"status at (http://\S+?)[;\s]", (tmp_path / "run.out").read_text())
        assert found, (tmp_path / "run.out").read_text() + (tmp_path / "run.err").read_text()
        yield process, found.group(1).rstrip("/")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=PATIENCE)
        out.close()
        err.close()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def status(org: Contoso) -> dict[str, Any]:
    result = command(org, "status", "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def seen(org: Contoso, mailbox: str) -> bool:
    """True once the service's incoming lane has set the mailbox's process-from date (its first sight)."""
    if not org.home.state_db.exists():
        return False
    with org.store() as store:
        return store.sync.process_from(mailbox) is not None


def stopped(org: Contoso, mailbox: str) -> bool:
    """True once the service recorded the mailbox's incoming lane as stopped (read in this process)."""
    if not org.home.state_db.exists():
        return False
    with org.store() as store:
        return store.health.get(mailbox, StateDirection.INCOMING).stopped


def direction(document: dict[str, Any], mailbox: str, which: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(m for m in document["mailboxes"] if m["mailbox"] == mailbox)[which]
    return entry


def test_no_secret_leaves_the_vault_while_the_router_works_and_fails(
        org: Contoso, service: tuple[subprocess.Popen[str], str], tmp_path: Path) -> None:
    process, url = service
    texts: list[str] = []
    alice = org.crm.find_user(ALICE)
    assert alice is not None
    email_id = draft_email(org.crm, alice, CAROL, subject="Offer")
    org.crm.send_email(None, email_id)
    # Mail older than the lane's first sight of the mailbox is history: inject only after it.
    eventually(lambda: seen(org, ALICE), "Alice's lane to see her mailbox")
    org.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="Question", body="How much?",
                           message_id="<question@fabrikam.com>")

    # The working mailbox delivers and sends; the failing one is stopped, and every place says so.
    eventually(lambda: org.crm.email(email_id).row["statuscode"] == EmailStatus.SENT, "Alice's email")
    eventually(lambda: bool(org.crm.emails(incoming=True)), "Alice's message to be delivered")
    eventually(lambda: stopped(org, BOB), "Bob's lane to stop")
    document = status(org)
    assert direction(document, ALICE, "incoming")["messages_last_hour"] == 1
    assert direction(document, BOB, "incoming")["status"] == "failure"
    assert any(a["mailbox"] == BOB for a in document["alerts"])
    assert org.mailbox(BOB)["lastsyncerror"], "the failure is written to the CRM's mailbox record"
    texts.append(json.dumps(document))
    for endpoint in ("metrics", "healthz", "readyz"):
        texts.append(requests.get(f"{url}/{endpoint}", timeout=PATIENCE).text)

    access = command(org, "test-access", "--probe-timeout", "10", "--no-record")
    assert access.returncode == 6 and BOB in access.stdout, access.stdout + access.stderr
    shown = command(org, "published", "show")
    assert shown.returncode == 0 and 'credential = "bob"' in shown.stdout
    traced = command(org, "trace", "<question@fabrikam.com>")
    assert traced.returncode == 0 and "deliver: delivered" in traced.stdout
    listed = command(org, "quarantine", "list")
    assert listed.returncode == 0
    texts += [r.stdout + r.stderr for r in (access, shown, traced, listed)]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=PATIENCE) == 0
    texts += [(tmp_path / "run.out").read_text(), (tmp_path / "run.err").read_text()]
    log = (org.home.root / "logs" / "email-router.log").read_text()
    assert "level=DEBUG" in log and BOB in log, "LogLevel 3 logged the failing mailbox in detail"

    for canary in forbidden():
        for text in texts:
            assert canary not in text, f"{canary} in {text[:200]}"
        for path in org.home.root.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), f"{canary} in {path}"
