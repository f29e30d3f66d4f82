"""``email-router crm``: what an admin or tester types, and what ends up in the CRM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from requests_ntlm import HttpNtlmAuth

from router.cli.main import cli
from router.crm.codes import Approval, EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.home import Home


@pytest.fixture(autouse=True)
def initialised(home: Home) -> None:
    """The home exists (as `email-router init` leaves it): the CRM commands create its CRM at first use."""
    home.root.mkdir(parents=True, exist_ok=True)


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, ["crm", *args], env=env or None, catch_exceptions=False)


def _seed(home: Home) -> None:
    for args in (
        (
            "user",
            "add",
            "Alice Archer",
            "--email",
            "alice@contoso.com",
            "--domain-name",
            "CONTOSO\\alice",
            "--approve",
        ),
        ("queue", "add", "Sales", "--email", "sales@contoso.com", "--filter", "responses"),
        ("contact", "add", "Carol Clark", "--email", "carol@fabrikam.com"),
        ("account", "add", "Fabrikam", "--email", "info@fabrikam.com"),
        ("lead", "add", "Dave Dunn", "--email", "dave@litware.com", "--company", "Litware"),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output


def test_records_and_mailboxes_are_created_and_approved(home: Home) -> None:
    _seed(home)
    assert (
        run("mailbox", "approve", "sales@contoso.com").output.strip() == "mailbox sales@contoso.com: approved"
    )
    listing = run("mailboxes").output.splitlines()
    assert listing[0].split()[:6] == ["ADDRESS", "OWNER", "IN", "OUT", "APPROVAL", "FILTER"]
    assert listing[2].split()[:6] == [
        "alice@contoso.com",
        "systemuser",
        "router",
        "router",
        "approved",
        "from_leads_contacts_accounts",
    ]
    assert listing[3].split()[:6] == [
        "sales@contoso.com",
        "queue",
        "router",
        "router",
        "approved",
        "responses",
    ]
    with EmbeddedCrm(home.crm_db) as crm:
        assert {m.address: m.approval for m in crm.load_mailboxes()}["sales@contoso.com"] is Approval.APPROVED
        assert crm.resolve("dave@litware.com") is not None


def test_compose_sends_to_pending_send_and_show_tells_everything(home: Home, tmp_path: Path) -> None:
    _seed(home)
    attachment = tmp_path / "quote.pdf"
    attachment.write_bytes(b"%PDF-1.7")
    result = run(
        "compose",
        "--from",
        "alice@contoso.com",
        "--to",
        "carol@fabrikam.com",
        "--cc",
        "x@example.org",
        "--subject",
        "Quote 42",
        "--body",
        "<p>Quote</p>",
        "--attach",
        str(attachment),
        "--regarding",
        "info@fabrikam.com",
        "--importance",
        "high",
    )
    assert result.exit_code == 0 and "Pending Send, subject 'Quote 42 CRM:0001001'" in result.output
    email_id = result.output.split()[1].rstrip(":")
    pending = run("activities", "--status", "pending-send", "--outgoing").output
    assert email_id in pending and "Pending Send" in pending
    assert email_id not in run("activities", "--status", "sent").output
    shown = run("show", email_id).output
    assert "status:       Pending Send (statecode 1)" in shown and "token:        CRM:0001001" in shown
    assert (
        "regarding:    account Fabrikam" in shown
        and "attachment:   quote.pdf (application/pdf, 8 bytes)" in shown
    )
    assert "to_recipient    carol@fabrikam.com" in shown and "contact Carol Clark" in shown


def test_a_draft_is_kept_then_sent(home: Home) -> None:
    _seed(home)
    drafted = run(
        "compose", "--from", "sales@contoso.com", "--to", "dave@litware.com", "--subject", "Hi", "--draft"
    )
    email_id = drafted.output.split()[1].rstrip(":")
    assert drafted.output.strip().endswith("Draft")
    sent = run("send", email_id, "--token", "CRM:0999999")
    assert "Pending Send, subject 'Hi CRM:0999999'" in sent.output
    with EmbeddedCrm(home.crm_db) as crm:
        assert EmailStatus(crm.email(email_id).row["statuscode"]) is EmailStatus.PENDING_SEND


def test_organisation_settings_and_user_disable(home: Home) -> None:
    _seed(home)
    shown = run("org", "--tracking-prefix", "TKT:", "--approve-users", "--min-common-addresses", "3").output
    assert "tracking_prefix          TKT:" in shown and "require_approval_users   True" in shown
    assert "hash_min_address_count   3" in shown
    assert run("user", "disable", "alice@contoso.com").output.strip() == "user Alice Archer disabled"
    assert "alice@contoso.com" not in run("mailboxes").output
    assert run("user", "disable", "alice@contoso.com", "--enable").exit_code == 0


def test_mistakes_get_a_clear_error_and_exit_code(home: Home) -> None:
    _seed(home)
    unknown = run("compose", "--from", "nobody@x.org", "--to", "a@b.org", "--subject", "x")
    assert (
        unknown.exit_code == 2
        and "no systemuser or queue has the e-mail address 'nobody@x.org'" in unknown.output
    )
    no_recipient = run("compose", "--from", "alice@contoso.com", "--subject", "x")
    assert no_recipient.exit_code == 2 and "no recipients" in no_recipient.output
    missing = run("show", "0f0e0d0c-0b0a-0908-0706-050403020100")
    assert missing.exit_code == 7 and "Does Not Exist" in missing.output
    bad_address = run("contact", "add", "X", "--email", "not-an-address")
    assert bad_address.exit_code == 7 and "hint:" in bad_address.output
    assert run("mailbox", "set", "alice@contoso.com").exit_code == 2
    assert "Traceback" not in unknown.output + missing.output + bad_address.output


def test_the_db_option_picks_another_file(home: Home, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    assert run("--db", str(other), "contact", "add", "Zed", "--email", "zed@example.org").exit_code == 0
    with EmbeddedCrm(other) as crm:
        assert crm.resolve("zed@example.org") is not None
    assert not home.crm_db.exists()


def test_serve_runs_the_facade_until_terminated(home: Home, tmp_path: Path) -> None:
    _seed(home)
    ready = tmp_path / "ready"
    env = {**os.environ, "EMAIL_ROUTER_HOME": str(home.root), "EMAIL_ROUTER_CRM_PASSWORD": "Passw0rd!"}
    command = [
        sys.executable,
        "-m",
        "router",
        "crm",
        "serve",
        "--port",
        "0",
        "--account",
        "CONTOSO\\alice",
        "--ready-file",
        str(ready),
    ]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            for _ in range(400):
                if (ready.exists() and ready.read_text().strip()) or process.poll() is not None:
                    break
                time.sleep(0.05)
            api = ready.read_text().strip()
            with requests.Session() as session:
                who = session.get(
                    api + "WhoAmI()", auth=HttpNtlmAuth("CONTOSO\\alice", "Passw0rd!"), timeout=10
                )
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=20)
    assert who.status_code == 200 and who.json()["UserId"]
    assert process.returncode == 0, err
    assert api in out and "CRM Web API facade stopped" in out and "Passw0rd" not in out + err
