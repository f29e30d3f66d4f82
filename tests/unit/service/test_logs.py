"""Service logging: legacy LogLevel, LogFile with rotation, structured lines, secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.config.profile import Direction
from router.config.settings import SystemSettings
from router.errors import ConfigError
from router.home import Home
from router.runtime.lane import LaneKey
from router.service.logcontext import lane_context
from router.service.logs import LOG_FILE_NAME, LogFormat, ServiceLogging

SECRET = "Tr0ub4dor&3-not-for-logs"
log = logging.getLogger("router.test.logs")


@pytest.fixture
def setups(quiet_root_logger: None) -> Iterator[list[ServiceLogging]]:
    """Every ServiceLogging a test makes, closed afterwards."""
    made: list[ServiceLogging] = []
    yield made
    for setup in made:
        setup.close()


def make(setups: list[ServiceLogging], home: Home, level: int = 3, **kwargs: object) -> ServiceLogging:
    setup = ServiceLogging(home, SystemSettings(log_level=level), **kwargs)  # type: ignore[arg-type]
    setups.append(setup)
    return setup


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(("level", "written"), [
    (0, ["CRITICAL"]),
    (1, ["CRITICAL", "ERROR"]),
    (2, ["CRITICAL", "ERROR", "WARNING", "INFO"]),
    (3, ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]),
])
def test_legacy_log_levels(setups: list[ServiceLogging], home: Home, level: int, written: list[str]) -> None:
    setup = make(setups, home, level)
    for method in (log.critical, log.error, log.warning, log.info, log.debug):
        method("a line")
    assert setup.path == home.log_dir / LOG_FILE_NAME
    assert [line.split()[1] for line in lines(setup.path)] == [f"level={name}" for name in written]


def test_log_file_is_private_and_relative_to_the_home(setups: list[ServiceLogging], home: Home) -> None:
    setup = ServiceLogging(home, SystemSettings(log_file=Path("var/router.log")))
    setups.append(setup)
    log.error("written")
    assert setup.path == home.root / "var" / "router.log"
    assert stat.S_IMODE(setup.path.stat().st_mode) == 0o600
    assert "written" in setup.path.read_text()


def test_logfmt_lines_carry_mailbox_and_lane(setups: list[ServiceLogging], home: Home) -> None:
    setup = make(setups, home)
    with lane_context(LaneKey("Alice@Example.test", Direction.INCOMING)):
        log.info("delivered %d items", 3)
    log.warning("explicit", extra={"mailbox": "bob@example.test"})
    first, second = lines(setup.path)
    assert "mailbox=alice@example.test lane=alice@example.test/incoming" in first
    assert first.endswith('msg="delivered 3 items"') and "logger=router.test.logs" in first
    assert first.startswith("ts=") and "thread=MainThread" in first
    assert "mailbox=bob@example.test" in second and "lane=" not in second


def test_json_lines_with_a_traceback(setups: list[ServiceLogging], home: Home) -> None:
    setup = make(setups, home, fmt=LogFormat.JSON)
    try:
        raise ValueError("bad item")
    except ValueError:
        log.exception("could not deliver",
                      extra={"mailbox": "a@example.test", "lane": "a@example.test/incoming"})
    record = json.loads(lines(setup.path)[0])
    assert record["level"] == "ERROR" and record["msg"] == "could not deliver"
    assert record["mailbox"] == "a@example.test" and record["lane"] == "a@example.test/incoming"
    assert "ValueError: bad item" in record["exc"]
    assert set(record) == {"ts", "level", "logger", "thread", "mailbox", "lane", "msg", "exc"}


def test_multi_line_values_stay_on_one_logfmt_line(setups: list[ServiceLogging], home: Home) -> None:
    setup = make(setups, home)
    try:
        raise KeyError("x")
    except KeyError:
        log.exception("two\nlines")
    [line] = lines(setup.path)
    assert 'msg="two\\nlines"' in line and 'exc="Traceback' in line


def test_no_secret_reaches_the_file_or_the_stream(setups: list[ServiceLogging], home: Home) -> None:
    stream = io.StringIO()
    setup = make(setups, home, secrets=[SECRET], stream=stream)
    log.error("login failed for svc with %s", SECRET)
    try:
        raise RuntimeError(f"server said: bad password {SECRET}")
    except RuntimeError:
        log.exception("unexpected")
    setup.add_secrets(["later-secret-42"])
    log.warning("rotated to later-secret-42; Authorization: Basic c3ZjOnB3")
    text = setup.path.read_text() + stream.getvalue()
    assert SECRET not in text and "later-secret-42" not in text and "c3ZjOnB3" not in text
    assert text.count("***") >= 6, "each secret is masked in the file and on the stream"


def test_apply_changes_level_and_file_while_running(setups: list[ServiceLogging], home: Home) -> None:
    setup = make(setups, home, level=1)
    first = setup.path
    log.info("hidden")
    setup.apply(SystemSettings(log_level=2, log_file=home.root / "other.log"))
    log.info("shown")
    assert setup.path == home.root / "other.log"
    assert lines(first) == [] and "shown" in lines(setup.path)[0]
    assert logging.getLogger("exchangelib").level == logging.WARNING, "foreign libraries never log bodies"


def test_rotation_keeps_backups(setups: list[ServiceLogging], home: Home) -> None:
    setup = make(setups, home, max_bytes=300, backups=2)
    for n in range(20):
        log.info("line %02d %s", n, "x" * 60)
    names = sorted(p.name for p in home.log_dir.iterdir())
    assert names == [LOG_FILE_NAME, f"{LOG_FILE_NAME}.1", f"{LOG_FILE_NAME}.2"]
    assert "line 19" in setup.path.read_text()


def test_close_removes_handlers_and_restores_levels(quiet_root_logger: None, home: Home) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("urllib3").level)
    setup = ServiceLogging(home, SystemSettings(log_level=3))
    assert len(root.handlers) == len(before[0]) + 1
    setup.close()
    assert (list(root.handlers), root.level, logging.getLogger("urllib3").level) == before


def test_an_unwritable_log_file_is_a_config_error(quiet_root_logger: None, home: Home,
                                                  tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="log file cannot be written") as caught:
        ServiceLogging(home, SystemSettings(log_file=blocker / "router.log"))
    assert caught.value.path == str(blocker / "router.log") and "log_file" in caught.value.hint
