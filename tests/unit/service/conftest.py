"""A home with a key, a vault and published configurations, for service, reload and `run` tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import publish
from router.home import Home
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file

CANARY = "canary-Service-7c31"
"""The service account's password: it must never reach a log line."""

PROFILES = """
[profiles.in]
direction = "incoming"
server_type = "exchange_2019"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "impersonation"
max_connections = 4

[profiles.out]
direction = "outgoing"
server_type = "exchange_2019"
ews_url = "https://outbound.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "send_as"
max_connections = 2

[deployments.main]
default_incoming_profile = "in"
default_outgoing_profile = "out"
"""

SETTINGS = """
[settings]
max_threads = 4
scheduling_period_seconds = 0.05
config_refresh_period_seconds = 0.05
log_level = 2
"""

MAILBOXES = """
[[users]]
address = "alice@example.test"

[[queues]]
address = "support@example.test"
outgoing = false
"""


class Publisher:
    """Writes profiles and publishes them into the test home."""

    def __init__(self, home: Home, directory: Path) -> None:
        self.home = home
        self.directory = directory

    def publish(self, *, mailboxes: str = MAILBOXES, settings: str = SETTINGS,
                profiles: str = PROFILES) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in (("profiles.toml", profiles), ("settings.toml", settings),
                           ("mailboxes.toml", mailboxes)):
            (self.directory / name).write_text(text)
        return publish(self.home, self.directory)

    def set_password(self, password: str) -> None:
        Vault.open(self.home).set("svc", PasswordCredential(username="svc", password=SecretStr(password)))


@pytest.fixture
def publisher(home: Home, tmp_path: Path) -> Publisher:
    """A home with a key and the `svc` credential; nothing is published until a test says so."""
    write_new_key_file(home.key_file, VaultKey.generate())
    pub = Publisher(home, tmp_path / "profiles")
    pub.set_password(CANARY)
    return pub


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def quiet_root_logger() -> Iterator[None]:
    """Restore the root logger's handlers and level after a test that configures logging."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
