"""The error tree renders its hint and location; the frozen clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from router.cli.main import cli
from router.clock import FrozenClock
from router.crm.updates import mailbox_error_values
from router.errors import (
    EXIT_CODES,
    CrmTransientError,
    Problem,
    ProfileValidationError,
    TransientTransportError,
    bounded,
)


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


def test_errors_quoting_a_server_are_bounded_and_others_are_not() -> None:
    huge = "x" * 1_000_000
    assert len(TransientTransportError(huge).message) < 4300 and "sha256" in CrmTransientError(huge).message
    assert bounded("short") == "short" and bounded(huge) != bounded(huge[:-1] + "y")
    many = ProfileValidationError([Problem("f.toml", f"k{i}", "m" * 80) for i in range(100)])
    assert "k99" in many.message
    values = mailbox_error_values(huge, 500, datetime(2026, 1, 1, tzinfo=UTC), 1)
    assert len(str(values["lastsyncerror"])) < 4300
