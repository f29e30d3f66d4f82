"""Helpers for configuration tests: a minimal valid profiles directory to break one piece at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.vault.credentials import CredentialKind

BASE_FILES = {
    "profiles.toml": """
[profiles.in]
direction = "incoming"
server_type = "exchange_2019"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "impersonation"

[profiles.out]
direction = "outgoing"
server_type = "exchange_2019"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "ntlm"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "send_as"
""",
    "deployments.toml": """
[deployments.main]
default_incoming_profile = "in"
default_outgoing_profile = "out"
""",
    "mailboxes.toml": """
[[users]]
address = "alice@example.test"

[[queues]]
address = "support@example.test"
outgoing = false
""",
}

BASE_CREDENTIALS = {"svc": CredentialKind.PASSWORD}


def write_profiles(directory: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (name -> TOML text) into ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    """A valid profiles directory: two profiles, one deployment, a user and a queue."""
    return write_profiles(tmp_path / "profiles", BASE_FILES)
