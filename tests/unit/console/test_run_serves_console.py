"""`email-router run` as a real process serves the console on its (loopback) status address.

Its refusal to serve the console without TLS elsewhere is tested on ``console_mount`` directly
(test_password_and_mount.py): tests bind nothing but 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import requests

from router.console.password import set_console_password
from router.home import Home
from tests.unit.console.conftest import CSRF_FIELD, PASSWORD
from tests.unit.service.conftest import Publisher, publisher
from tests.unit.service.test_run_command import ONE_MAILBOX, PROCESS_WAIT, Lines, spawn

__all__ = ["publisher", "spawn"]
Spawn = Callable[..., tuple[subprocess.Popen[str], Lines, Lines]]


def test_run_serves_the_console_on_loopback(home: Home, publisher: Publisher, spawn: Spawn) -> None:
    publisher.publish(mailboxes=ONE_MAILBOX)
    set_console_password(home, PASSWORD)
    child, out, err = spawn("-m", "router", "--home", str(home.root), "run", "--status-port", "0",
                            "--grace", "5")
    match = re.search(r"status at (http://127\.0\.0\.1:\d+);", out.wait_for(lambda line: "status at" in line))
    assert match
    url = match.group(1)
    err.wait_for(lambda line: f"console at {url}/login" in line)
    with requests.Session() as http:
        assert http.get(f"{url}/mailboxes", allow_redirects=False, timeout=PROCESS_WAIT).status_code == 303
        token = CSRF_FIELD.search(http.get(f"{url}/login", timeout=PROCESS_WAIT).text)
        assert token is not None
        signed_in = http.post(f"{url}/login", data={"csrf": token.group(1), "password": PASSWORD},
                              timeout=PROCESS_WAIT)
        assert signed_in.status_code == 200 and "alice@example.test" in signed_in.text
        assert http.get(f"{url}/published", timeout=PROCESS_WAIT).text.count("running") >= 1
    child.terminate()
    assert child.wait(PROCESS_WAIT) == 0
    assert PASSWORD not in err.rest() + (home.log_dir / "email-router.log").read_text()

