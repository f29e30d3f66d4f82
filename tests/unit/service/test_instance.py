"""InstanceRun: one live run per instance (advisory lock / process id), take-back at start, backlog alerts."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.config.settings import SystemSettings
from router.errors import UsageError
from router.service.instance import BACKLOG_ALERT, InstanceRun
from router.state import StateStore, sqlite_url
from router.state.instances import RunIdentity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = SystemSettings(lease_seconds=30, backlog_alert_seconds=600)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[StateStore]:
    url = (sqlite_url(tmp_path / "state.sqlite") if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    with StateStore.open(url, clock) as opened:
        yield opened


def test_a_restart_takes_back_the_crashed_runs_claims(store: StateStore, clock: FrozenClock) -> None:
    crashed = RunIdentity.new("router-a")
    store.instances.register(crashed, "elsewhere", 1)
    store.ledger.claim("m@x.test", "k1", owner=f"{crashed.tag}:1:m@x.test")
    clock.advance(1)
    run = InstanceRun(store, RunIdentity.new("router-a"), SETTINGS)
    run.start()
    try:
        assert run.taken_back == 1
        assert store.ledger.pending("m@x.test")[0].message_key == "k1"
    finally:
        run.close()
    row = store.instances.get("router-a")
    assert row is not None and row.run_id == run.identity.run_id and row.stopped_at == clock.now()


def test_a_second_live_run_of_the_same_instance_is_refused(postgres_url: str, clock: FrozenClock) -> None:
    with StateStore.open(postgres_url, clock) as one, StateStore.open(postgres_url, clock) as two:
        first = InstanceRun(one, RunIdentity.new("router-a"), SETTINGS)
        first.start()
        try:
            with pytest.raises(UsageError, match="already running") as caught:
                InstanceRun(two, RunIdentity.new("router-a"), SETTINGS).start()
            assert "--instance" in caught.value.hint
            other = InstanceRun(two, RunIdentity.new("router-b"), SETTINGS)
            other.start()
            other.close()
        finally:
            first.close()
        # The lock went with the first run's graceful stop.
        again = InstanceRun(two, RunIdentity.new("router-a"), SETTINGS)
        again.start()
        again.close()


def test_on_sqlite_a_live_process_of_the_instance_is_refused(tmp_path: Path, clock: FrozenClock) -> None:
    with StateStore.open(sqlite_url(tmp_path / "state.sqlite"), clock) as store:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            store.instances.register(RunIdentity.new("router-a"), socket.gethostname(), sleeper.pid)
            with pytest.raises(UsageError, match=f"process {sleeper.pid}"):
                InstanceRun(store, RunIdentity.new("router-a"), SETTINGS).start()
        finally:
            sleeper.kill()
            sleeper.wait()
        run = InstanceRun(store, RunIdentity.new("router-a"), SETTINGS)
        run.start()
        run.close()


def test_a_backlog_that_stands_still_raises_an_alert_until_it_moves(store: StateStore,
                                                                    clock: FrozenClock) -> None:
    run = InstanceRun(store, RunIdentity.new("router-a"), SETTINGS)
    claim = store.ledger.claim("m@x.test", "k1", owner="someone")
    clock.advance(599)
    run.watch_backlog()
    assert store.alerts.open_alerts() == []
    clock.advance(2)
    run.watch_backlog()
    [alert] = store.alerts.open_alerts()
    assert (alert.kind, alert.mailbox) == (BACKLOG_ALERT, "m@x.test")
    assert "1 unfinished incoming" in alert.text
    store.ledger.mark_screened(claim)
    run.watch_backlog()
    assert store.alerts.open_alerts() == []
