"""`email-router run` as a real process: status endpoint, graceful SIGTERM / SIGINT, forced second signal."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import requests
from click.testing import CliRunner

from router.cli.main import cli
from router.home import Home
from router.service.signals import forced_exit_status
from tests.unit.service.conftest import CANARY, Publisher

REPO = Path(__file__).resolve().parents[3]
PROCESS_WAIT = 30.0
"""Upper bound, in real seconds, on a child process starting or stopping; never reached when passing."""
ONE_MAILBOX = '[[users]]\naddress = "alice@example.test"\noutgoing = false\n'


class Lines:
    """Collects a pipe's lines on a thread so a test can wait for one without blocking forever."""

    def __init__(self, pipe: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool]) -> str:
        while True:
            try:
                line = self._queue.get(timeout=PROCESS_WAIT)
            except queue.Empty:
                raise AssertionError(f"no matching line; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"the pipe closed first; saw {self.seen}")
            self.seen.append(line)
            if wanted(line):
                return line

    def rest(self) -> str:
        self._thread.join(PROCESS_WAIT)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.seen.append(line)
        return "".join(self.seen)


@pytest.fixture
def spawn() -> Iterator[Callable[..., tuple[subprocess.Popen[str], Lines, Lines]]]:
    """Start a child process with piped output; it is killed if a test leaves it running."""
    children: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
        child = subprocess.Popen([sys.executable, *args], cwd=REPO, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        children.append(child)
        assert child.stdout is not None and child.stderr is not None
        return child, Lines(child.stdout), Lines(child.stderr)

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(PROCESS_WAIT)
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()


def test_run_without_a_published_configuration_says_to_publish(home: Home) -> None:
    result = CliRunner().invoke(cli, ["run", "--status-port", "0"], catch_exceptions=False)
    assert result.exit_code == 3
    assert "no published configuration" in result.output
    assert "run `email-router publish` first" in result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_serves_status_and_stops_gracefully_on_a_signal(
        home: Home, publisher: Publisher, spawn: Callable[..., tuple[subprocess.Popen[str], Lines, Lines]],
        signum: signal.Signals) -> None:
    publisher.publish(mailboxes=ONE_MAILBOX)
    child, out, err = spawn("-m", "router", "--home", str(home.root), "run", "--status-port", "0",
                            "--grace", "5")
    banner = out.wait_for(lambda line: "status at" in line)
    match = re.search(r"status at (http://127\.0\.0\.1:\d+);", banner)
    assert match and "configuration version 1" in banner
    url = match.group(1)
    err.wait_for(lambda line: "service started" in line)
    with requests.Session() as http:
        ready = http.get(f"{url}/readyz", timeout=PROCESS_WAIT)
        health = http.get(f"{url}/healthz", timeout=PROCESS_WAIT)
        metrics = http.get(f"{url}/metrics", timeout=PROCESS_WAIT)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"config": True, "scheduling": True, "crm_load_data": True}
    assert "configuration version 1, 0 lane(s)" in ready.json()["detail"]
    assert health.status_code == 200 and "email_router_build_info" in metrics.text
    child.send_signal(signum)
    assert child.wait(PROCESS_WAIT) == 0
    assert "email-router stopped." in out.rest()
    log_text = (home.log_dir / "email-router.log").read_text()
    stderr = err.rest()
    assert f"{signum.name} received: stopping" in log_text and "service stopped" in log_text
    assert CANARY not in log_text + stderr + "".join(out.seen)


def test_a_second_signal_forces_exit_while_a_run_will_not_end(
        home: Home, publisher: Publisher,
        spawn: Callable[..., tuple[subprocess.Popen[str], Lines, Lines]]) -> None:
    publisher.publish(mailboxes=ONE_MAILBOX)
    child, out, err = spawn("-m", "tests.unit.service.blocking_service", str(home.root))
    out.wait_for(lambda line: line.strip() == "RUNNING")
    child.send_signal(signal.SIGTERM)
    err.wait_for(lambda line: "received: stopping" in line)
    child.send_signal(signal.SIGTERM)
    assert child.wait(PROCESS_WAIT) == forced_exit_status(signal.SIGTERM) == 143
    assert "RETURNED" not in out.rest()
    assert "second SIGTERM received: exiting now" in err.rest()
