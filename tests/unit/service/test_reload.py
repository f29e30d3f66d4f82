"""The configuration watcher: new versions are applied once, broken ones refused, the running one kept."""

from __future__ import annotations

import logging
import threading

import pytest

from router.config import PublishedConfig, published_path
from router.errors import ConfigError, PublishedConfigError
from router.home import Home
from router.service.reload import ConfigWatcher, ReloadKind
from tests.unit.service.conftest import Publisher
from tests.unit.service.lanes_kit import WAIT


class Applied:
    """An ``apply`` that records versions and can be told to refuse the next one."""

    def __init__(self) -> None:
        self.versions: list[int] = []
        self.refuse_with: Exception | None = None
        self.event = threading.Event()

    def __call__(self, config: PublishedConfig) -> None:
        if self.refuse_with is not None:
            raise self.refuse_with
        self.versions.append(config.version)
        self.event.set()


def test_nothing_published_or_nothing_new_is_unchanged(home: Home, publisher: Publisher) -> None:
    applied = Applied()
    watcher = ConfigWatcher(home, applied, current=None)
    assert watcher.check().kind is ReloadKind.UNCHANGED
    publisher.publish()
    outcome = watcher.check()
    assert (outcome.kind, outcome.version, outcome.previous) == (ReloadKind.APPLIED, 1, None)
    assert watcher.check().kind is ReloadKind.UNCHANGED
    assert applied.versions == [1]


def test_a_new_version_is_applied_and_logged(home: Home, publisher: Publisher,
                                             caplog: pytest.LogCaptureFixture) -> None:
    publisher.publish()
    applied = Applied()
    watcher = ConfigWatcher(home, applied, current=1)
    publisher.publish()
    with caplog.at_level(logging.INFO, logger="router.service.reload"):
        outcome = watcher.check()
    assert (outcome.kind, outcome.version, outcome.previous, watcher.current) == (
        ReloadKind.APPLIED, 2, 1, 2)
    assert "configuration version 2 applied (was 1)" in caplog.text


def test_a_corrupt_version_is_refused_once_and_the_running_one_stays(
        home: Home, publisher: Publisher, caplog: pytest.LogCaptureFixture) -> None:
    publisher.publish()
    applied = Applied()
    watcher = ConfigWatcher(home, applied, current=1)
    publisher.publish()
    path = published_path(home, 2)
    path.write_bytes(path.read_bytes().replace(b'"max_threads": 4', b'"max_threads": 999'))
    with caplog.at_level(logging.ERROR, logger="router.service.reload"):
        outcome = watcher.check()
        again = watcher.check()
    assert outcome.kind is ReloadKind.REFUSED and isinstance(outcome.error, PublishedConfigError)
    assert "integrity check failed" in str(outcome.error)
    assert again.kind is ReloadKind.UNCHANGED, "a refused version is reported once, not every period"
    assert watcher.current == 1 and watcher.refused == 2 and applied.versions == []
    [record] = caplog.records
    assert "version 2 refused; version 1 keeps running" in record.getMessage()
    publisher.publish()
    assert watcher.check().kind is ReloadKind.APPLIED and applied.versions == [3]


def test_a_truncated_file_and_a_refusing_apply_are_refused(home: Home, publisher: Publisher) -> None:
    publisher.publish()
    applied = Applied()
    watcher = ConfigWatcher(home, applied, current=None)
    published_path(home, 1).write_text("{")
    assert watcher.check().kind is ReloadKind.REFUSED
    publisher.publish()
    applied.refuse_with = ConfigError("the log file cannot be written")
    outcome = watcher.check()
    assert outcome.kind is ReloadKind.REFUSED and outcome.error is applied.refuse_with
    applied.refuse_with = None
    publisher.publish()
    assert watcher.check().version == 3 and applied.versions == [3]


def test_a_bug_in_apply_is_refused_with_its_traceback(home: Home, publisher: Publisher,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    publisher.publish()
    applied = Applied()
    applied.refuse_with = KeyError("lane")
    watcher = ConfigWatcher(home, applied, current=None)
    outcome = watcher.check()
    assert outcome.kind is ReloadKind.REFUSED and watcher.current is None
    assert any(r.exc_info for r in caplog.records)


def test_the_background_watcher_applies_a_new_publish(home: Home, publisher: Publisher) -> None:
    publisher.publish()
    applied = Applied()
    watcher = ConfigWatcher(home, applied, current=1)
    watcher.start(lambda: 0.01)
    try:
        assert watcher.alive
        publisher.publish()
        assert applied.event.wait(WAIT)
        assert applied.versions == [2]
        with pytest.raises(RuntimeError, match="already running"):
            watcher.start(lambda: 1.0)
    finally:
        watcher.stop()
    assert not watcher.alive
