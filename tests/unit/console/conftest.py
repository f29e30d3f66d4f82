"""A home with a console password and a little state, and the status server with the console mounted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from router.cli.main import cli
from router.clock import FrozenClock
from router.console.app import Console
from router.console.history import MetricHistory
from router.console.password import set_console_password
from router.home import Home
from router.runtime.metrics import Metrics
from router.service.status_server import StatusServer
from router.state import Direction, DirectoryRow, StateStore

PASSWORD = "correct horse battery staple"
ALICE, BOB = "alice@contoso.com", "bob@contoso.com"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    """The running console: its URL, clock, metrics and the home's state store."""

    url: str
    clock: FrozenClock
    metrics: Metrics
    store: StateStore
    console: Console
    history: MetricHistory

    def login(self, session: requests.Session | None = None, password: str = PASSWORD,
              next_path: str = "/mailboxes") -> requests.Response:
        """Fetch the login form and post ``password`` with its token; returns the (unfollowed) answer."""
        session = session or requests.Session()
        form = session.get(f"{self.url}/login")
        token = CSRF_FIELD.search(form.text)
        assert token is not None, form.text
        return session.post(f"{self.url}/login", data={"csrf": token.group(1), "password": password,
                                                        "next": next_path}, allow_redirects=False)

    def signed_in(self) -> requests.Session:
        """A requests session signed in to the console."""
        session = requests.Session()
        answer = self.login(session)
        assert answer.status_code == 303, answer.text
        return session


def initialised(home: Home) -> Home:
    """A home with key and vault (`email-router init`) and the console password."""
    result = CliRunner().invoke(cli, ["--home", str(home.root), "init"])
    assert result.exit_code == 0, result.output
    set_console_password(home, PASSWORD)
    return home


def seed(store: StateStore) -> None:
    """Two mailboxes: Alice failing and stopped with an alert, Bob fine; one quarantined message of Alice."""
    now = store.clock.now()
    rows = [DirectoryRow(m, way, "contoso", "user", "both", True, "", "exchange", None, 1, now)
            for m in (ALICE, BOB) for way in Direction]
    store.directory.replace(rows)
    store.health.record_success(BOB, Direction.INCOMING)
    store.health.record_failure(ALICE, Direction.INCOMING, error="Invalid credentials", code="auth")
    store.health.stop(ALICE, Direction.INCOMING, "Invalid credentials")
    store.alerts.raise_alert("mailbox_stopped_incoming", "incoming mail of alice stopped", mailbox=ALICE)
    mime = b"From: carol@fabrikam.com\r\nTo: alice@contoso.com\r\nSubject: Broken\r\n" \
           b"Message-ID: <broken@fabrikam.com>\r\n\r\nbody\r\n"
    store.quarantine.add(mailbox=ALICE, message_key="k1", stage="deliver", reason_code="crm-refused",
                         reason="the CRM refused it", internet_message_id="<broken@fabrikam.com>", mime=mime)


@pytest.fixture
def site(home: Home) -> Iterator[Site]:
    """The status server with the console, on a free loopback port, over a seeded home."""
    initialised(home)
    clock = FrozenClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    metrics = Metrics()
    with StateStore.open_home(home, clock) as store:
        seed(store)
        history = MetricHistory(metrics, clock)
        console = Console(home, clock, history)
        with StatusServer(metrics, console=console) as server:
            yield Site(server.url, clock, metrics, store, console, history)
        console.close()


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A directory for a throw-away CA and server certificate."""
    return tmp_path / "tls"
