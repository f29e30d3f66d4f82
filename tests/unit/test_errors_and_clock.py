"""The error tree renders its hint and location; the frozen clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from router.cli.main import cli
from router.clock import FrozenClock
from router.errors import EXIT_CODES, Problem, ProfileValidationError, TransientTransportError


def test_error_names_location_and_hint() -> None:
    err = TransientTransportError("server busy", back_off=2.5, mailbox="a@x.test", hint="wait")
    assert err.transient and err.back_off == 2.5
    assert "mailbox=a@x.test" in str(err) and "hint: wait" in str(err)


def test_validation_error_carries_every_problem() -> None:
    err = ProfileValidationError([Problem("a.toml", "auth.kind", "bad"), Problem("b.toml", "", "empty")])
    assert len(err.problems) == 2
    assert "a.toml: auth.kind: bad" in str(err) and "b.toml: <file>: empty" in str(err)
    assert err.exit_code == 3


def test_frozen_clock_advances_on_sleep() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.sleep(90)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.monotonic() == 90


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for code in EXIT_CODES:
        assert f"  {code}  " in result.output
