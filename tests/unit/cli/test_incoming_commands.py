"""The incoming admin commands on a home's state store: quarantine list/show/resolve, trace, and the
clear errors every command gives when there is nothing to act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from router.cli.main import cli
from router.clock import SystemClock
from router.home import Home
from router.state import Direction, StateStore
from tests.unit.cli.conftest import Invoke


@pytest.fixture
def run() -> Invoke:
    """The CLI in a terminal wide enough that table cells are not folded."""
    runner = CliRunner(env={"COLUMNS": "250"})

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def seed(home: Home) -> int:
    """One quarantined message with its trail, straight into the state store."""
    home.root.mkdir(parents=True, exist_ok=True)
    with StateStore.open_home(home, SystemClock()) as store:
        store.trail.record(direction=Direction.INCOMING, mailbox="alice@example.test",
                           message_key="<q@x.test>", internet_message_id="<q@x.test>", stage="screen",
                           result="accepted", reason_code="accepted")
        entry = store.quarantine.add(mailbox="alice@example.test", message_key="<q@x.test>",
                                     stage="deliver", reason_code="0x80040203",
                                     reason="the CRM rejected the message: bad body",
                                     internet_message_id="<q@x.test>", mime=b"Subject: q\r\n\r\nbody\r\n")
        return entry.id


def test_quarantine_list_show_and_resolve(home: Home, run: Invoke, tmp_path: Path) -> None:
    home.root.mkdir(parents=True)
    assert "there is no state database" in run("quarantine", "list").output, "a wrong home creates nothing"
    StateStore.open_home(home, SystemClock()).close()
    assert run("quarantine", "list").output.strip() == "no open quarantine entries"
    entry = seed(home)
    listed = run("quarantine", "list", "--mailbox", "Alice@Example.test")
    assert listed.exit_code == 0 and "0x80040203" in listed.output and "<q@x.test>" in listed.output
    saved = tmp_path / "q.eml"
    shown = run("quarantine", "show", str(entry), "--save-mime", str(saved))
    assert shown.exit_code == 0 and "screen: accepted" in shown.output and "bad body" in shown.output
    assert saved.read_bytes() == b"Subject: q\r\n\r\nbody\r\n"
    assert run("quarantine", "resolve", str(entry), "--note", "asked the sender to resend").exit_code == 0
    assert run("quarantine", "list").output.strip() == "no open quarantine entries"
    resolved = run("quarantine", "list", "--status", "resolved")
    assert "resolved" in resolved.output and "<q@x.test>" in resolved.output
    retried = run("quarantine", "retry", str(entry))
    assert retried.exit_code == 5 and "is resolved and cannot be retried" in retried.output


def test_unknown_entries_and_messages_are_named(home: Home, run: Invoke) -> None:
    home.root.mkdir(parents=True)
    StateStore.open_home(home, SystemClock()).close()
    missing = run("quarantine", "show", "42")
    assert missing.exit_code == 5 and "there is no quarantine entry 42" in missing.output
    assert "quarantine list" in missing.output
    traced = run("trace", "nothing@example.test")
    assert traced.exit_code == 5 and "nothing is recorded about <nothing@example.test>" in traced.output


def test_commands_that_need_a_published_configuration_say_so(home: Home, run: Invoke) -> None:
    home.root.mkdir(parents=True)
    for args in (("backfill", "alice@example.test", "--since", "2024-05-01"), ("rules", "deploy")):
        result = run(*args)
        assert result.exit_code == 3 and "nothing has been published yet" in result.output
