"""Every command of `email-router`: described in one line in the help, and a clear answer against a home
that does not exist or is empty (a message with a hint and a documented exit code, never a traceback,
and nothing created in a home that does not exist, except by `init`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.errors import EXIT_CODES

MISSING_ID = "00000000-0000-0000-0000-000000000001"
COMMANDS: dict[str, list[str]] = {
    "init": [],
    "profiles validate": [],
    "profiles schema": [],
    "credentials set": ["svc"],
    "credentials list": [],
    "credentials delete": ["svc"],
    "credentials rotate-key": [],
    "publish": [],
    "published list": [],
    "published show": [],
    "published rollback": ["1"],
    "import-legacy": ["{tmp}/no-such-legacy-config", "--out", "{tmp}/imported"],
    "simulate send": [],
    "simulate grant": ["send_as", "--mailbox", "alice@contoso.com", "--to", "svc@contoso.com"],
    "simulate revoke": ["send_as", "--mailbox", "alice@contoso.com", "--to", "svc@contoso.com"],
    "simulate inject": ["--mailbox", "alice@contoso.com"],
    "simulate mailbox": ["alice@contoso.com"],
    "simulate journal": [],
    "simulate fault": ["server_busy"],
    "simulate clear-faults": [],
    "simulate crm": [],
    "run": [],
    "crm org": [],
    "crm user add": ["Alice", "--email", "alice@contoso.com", "--domain-name", "CONTOSO\\alice"],
    "crm user disable": ["alice@contoso.com"],
    "crm queue add": ["Support", "--email", "support@contoso.com"],
    "crm contact add": ["Carol", "--email", "carol@fabrikam.com"],
    "crm account add": ["Fabrikam", "--email", "info@fabrikam.com"],
    "crm lead add": ["Dave", "--email", "dave@litware.com"],
    "crm mailboxes": [],
    "crm mailbox approve": ["alice@contoso.com"],
    "crm mailbox set": ["alice@contoso.com", "--incoming", "router"],
    "crm compose": ["--from", "alice@contoso.com", "--subject", "Hello", "--to", "carol@fabrikam.com"],
    "crm send": [MISSING_ID],
    "crm activities": [],
    "crm show": [MISSING_ID],
    "crm serve": [],
    "test-access": [],
    "mailbox resume": ["alice@contoso.com"],
    "status": [],
    "state migrate": [],
    "trace": ["<nobody@example.test>"],
    "quarantine list": [],
    "quarantine show": ["1"],
    "quarantine retry": ["1"],
    "quarantine resolve": ["1", "--note", "done"],
    "backfill": ["alice@contoso.com", "--since", "2024-01-01"],
    "rules deploy": [],
    "console password": ["--stdin"],
}
"""Each command with arguments that would do something in a configured home."""

NOT_RUN = {
    "simulate ews": "serves the simulator until interrupted, from a state directory of its own",
    "simulate bench": "measures the simulator alone and reads nothing from the home",
}


def leaves(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command, click.Group]]:
    """Every command below ``group`` with its full name and the group listing it."""
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        yield full, command, group
        if isinstance(command, click.Group):
            yield from leaves(command, f"{full} ")


def test_the_table_covers_every_command() -> None:
    runnable = {name for name, command, _ in leaves(cli) if not isinstance(command, click.Group)}
    assert set(COMMANDS) | set(NOT_RUN) == runnable


def test_the_help_lists_every_command_in_one_line_and_the_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name in cli.commands:
        # Command rows are indented by two spaces; wrapped option help is indented further.
        [line] = [line for line in lines if line.startswith(f"  {name} ")]
        assert len(line.split()) > 2 and not line.endswith("..."), line
    table = result.output[result.output.index("Exit codes:"):]
    for code, text in EXIT_CODES.items():
        assert f"{code:>3}  {text}" in table


@pytest.mark.parametrize(("name", "command", "group"), list(leaves(cli)),
                         ids=[name for name, _, _ in leaves(cli)])
def test_every_command_has_a_one_line_description(name: str, command: click.Command,
                                                  group: click.Group) -> None:
    limit = 80 - 6 - max(len(n) for n in group.commands)  # What click leaves for it in an 80-column help.
    described = command.get_short_help_str(limit=limit)
    assert described and not described.endswith("..."), f"{name}: {described!r}"


@pytest.mark.parametrize("state", ["missing", "empty"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_missing_or_empty_home_gets_a_clear_answer(name: str, state: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    if state == "empty":
        home.mkdir()
    monkeypatch.chdir(tmp_path)
    for variable in ("EMAIL_ROUTER_HOME", "EMAIL_ROUTER_KEY", "EMAIL_ROUTER_PROFILES"):
        monkeypatch.delenv(variable, raising=False)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in COMMANDS[name]]
    result = CliRunner().invoke(cli, ["--home", str(home), *name.split(), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code in EXIT_CODES and result.exit_code != 1, result.output
    if result.exit_code != 0:
        assert "hint:" in result.output, result.output
    if state == "missing" and name != "init":
        assert not home.exists(), f"{name} created the home that did not exist"
