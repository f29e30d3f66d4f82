"""The `simulate` CLI, the JSON control API, and seed files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.errors import SimulatorError
from router.simulator import Controller, ServerConfig
from router.simulator.client import ControlClient, write_control_file
from router.simulator.seed import load_seed
from tests.support.ews_simulator import ALICE, BOB, QUEUE, SMALL_ORG, SVC


@pytest.fixture
def running(ews_tls_dir: Path, tmp_path: Path) -> Iterator[tuple[Controller, Path]]:
    """A simulator with a control token and its control.json, as `simulate ews` leaves them."""
    state = tmp_path / "state"
    with Controller(config=ServerConfig(control_token="t0ken"), state_dir=ews_tls_dir, seed=SMALL_ORG) as sim:
        write_control_file(state, sim.base_url, sim.ca_file, "t0ken")
        yield sim, state


def test_send_demo_shows_each_right(home: object) -> None:
    runner = CliRunner()
    on_behalf = runner.invoke(cli, ["simulate", "send", "--on-behalf"])
    assert on_behalf.exit_code == 0, on_behalf.output
    assert "Shown as: CRM Service <svc-crm@contoso.com> on behalf of Support Queue <queue@contoso.com>" in (
        on_behalf.output
    )
    send_as = runner.invoke(cli, ["simulate", "send", "--as", "--to", "someone@fabrikam.com"])
    assert "Sender: (none" in send_as.output and "From:   Support Queue <queue@contoso.com>" in send_as.output
    denied = runner.invoke(cli, ["simulate", "send", "--none"])
    assert "ErrorSendAsDenied" in denied.output and "queue@contoso.com Drafts" in denied.output
    missing = runner.invoke(cli, ["simulate", "send"])
    assert missing.exit_code == 2 and "--as, --on-behalf or --none" in missing.output


def test_tester_commands_drive_a_running_simulator(running: tuple[Controller, Path]) -> None:
    sim, state = running
    runner = CliRunner()
    base = ["simulate"]
    opt = ["--state-dir", str(state)]
    assert (
        runner.invoke(cli, [*base, "grant", "send_as", "--mailbox", QUEUE, "--to", SVC, *opt]).exit_code == 0
    )
    assert sim.store.require_user(QUEUE).send_as == {SVC}
    runner.invoke(cli, [*base, "revoke", "send_as", "--mailbox", QUEUE, "--to", SVC, *opt])
    assert sim.store.require_user(QUEUE).send_as == set()
    result = runner.invoke(cli, [*base, "inject", "--mailbox", ALICE, "--subject", "via cli", *opt])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(cli, [*base, "mailbox", ALICE, *opt]).output)
    assert [m["subject"] for m in listed] == ["via cli"]
    fault = runner.invoke(
        cli, [*base, "fault", "server_busy", "--operation", "GetItem", "--count", "2", *opt]
    )
    assert json.loads(fault.output)["count"] == 2
    assert runner.invoke(cli, [*base, "clear-faults", *opt]).exit_code == 0
    assert json.loads(runner.invoke(cli, [*base, "journal", *opt]).output) == []


def test_control_api_needs_the_token_and_reports_bad_requests(running: tuple[Controller, Path]) -> None:
    sim, state = running
    wrong = ControlClient(sim.base_url, str(sim.ca_file), "not-the-token")
    with pytest.raises(SimulatorError, match="control token"):
        wrong.call("GET", "state")
    client = ControlClient.from_state_dir(state)
    with pytest.raises(SimulatorError, match="unknown right"):
        client.call("POST", "grant", {"right": "root", "mailbox": QUEUE, "to": SVC})
    token = client.call("POST", "token", {"user": BOB})["access_token"]
    assert sim.simulator.tokens.check(token) is not None


def test_no_running_simulator_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "journal", "--state-dir", str(tmp_path)])
    assert result.exit_code == 10
    assert "no running simulator found" in result.output and "simulate ews" in result.output


def test_bad_seed_reports_every_problem_with_its_key(tmp_path: Path) -> None:
    seed = tmp_path / "org.toml"
    seed.write_text('[[users]]\naddress = "not-an-address"\n\n[[users]]\naddress = "x@y.z"\ncolour = "red"\n')
    with pytest.raises(SimulatorError) as caught:
        load_seed(seed)
    text = str(caught.value)
    assert "2 problem(s)" in text and "users.0.address" in text and "users.1.colour" in text
    assert str(seed) in text


def test_seed_with_eml_relative_to_the_file(tmp_path: Path, ews_tls_dir: Path) -> None:
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "one.eml").write_bytes(
        b"From: a@fabrikam.com\r\nTo: alice@contoso.com\r\n"
        b"Subject: from eml\r\nMessage-ID: <e1@fabrikam.com>\r\n\r\nhi\r\n"
    )
    seed = tmp_path / "org.toml"
    seed.write_text(
        '[[users]]\naddress = "alice@contoso.com"\n\n[[messages]]\nmailbox = "alice@contoso.com"\n'
        'eml = "mail/one.eml"\n'
    )
    with Controller(state_dir=ews_tls_dir, seed=seed) as sim:
        [msg] = sim.control.messages(ALICE)
        assert msg.subject == "from eml" and msg.message_id == "<e1@fabrikam.com>"
