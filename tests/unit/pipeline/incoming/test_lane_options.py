"""Incoming options from a published configuration: folders, acknowledgement, policies, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from router.config import (
    Acknowledgement,
    MailboxRole,
    PublishedConfig,
    SharedLogging,
    load_published,
    publish,
)
from router.errors import ProfileValidationError
from router.home import Home
from router.pipeline.incoming.acknowledge import AckPlan
from router.pipeline.incoming.options import lane_options
from router.pipeline.incoming.size_policy import SizeMode
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file

PROFILES = """
[profiles.in]
direction = "incoming"
server_type = "exchange_se"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "basic"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "impersonation"
{profile_extra}

[deployments.main]
default_incoming_profile = "in"
{deployment_extra}

[settings.incoming]
max_attachment_bytes = 1000
oversize_action = "quarantine"
notification_streams = 0
"""

MAILBOXES = """
[[users]]
address = "Alice@Example.test"
outgoing = false

[[queues]]
address = "logbook@example.test"
outgoing = false
acknowledge = { category = "Logged", mark_read = true }
[queues.shared_logging]
queue_folder = "Inbox/Queue"
storage_folder = "Archive/Logged"

[[forward_mailboxes]]
address = "forward@example.test"
delete_after_processing = true

[[forward_mailboxes]]
address = "keep@example.test"
"""


def published(home: Home, tmp_path: Path, *, profile_extra: str = "", deployment_extra: str = "",
              mailboxes: str = MAILBOXES) -> PublishedConfig:
    write_new_key_file(home.key_file, VaultKey.generate())
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr("pw")))
    directory = tmp_path / "profiles"
    directory.mkdir(exist_ok=True)
    (directory / "main.toml").write_text(PROFILES.format(profile_extra=profile_extra,
                                                         deployment_extra=deployment_extra) + mailboxes)
    publish(home, directory)
    return load_published(home)


def options(config: PublishedConfig, address: str):  # type: ignore[no-untyped-def]
    [assignment] = [a for a in config.profiles.mailboxes() if a.address == address]
    return lane_options(config, assignment)


def test_a_user_mailbox_watches_the_inbox_and_tags_what_the_crm_took(home: Home, tmp_path: Path) -> None:
    alice = options(published(home, tmp_path), "Alice@Example.test")
    assert (alice.mailbox, alice.folder, alice.role) == ("alice@example.test", "Inbox", MailboxRole.USER)
    assert alice.ack == AckPlan(category="Tracked to Dynamics 365")
    assert alice.screening.loop_identity == "main", "the deployment's name by default"
    assert alice.size.mode is SizeMode.QUARANTINE and alice.size.max_attachment_bytes == 1000
    assert alice.batch_size == 10 and alice.notification_streams == 0


def test_profile_acknowledgement_and_loop_identity_are_configurable(home: Home, tmp_path: Path) -> None:
    config = published(home, tmp_path, deployment_extra='loop_identity = "contoso-crm"',
                       profile_extra='acknowledge = { move_to = "Inbox/CRM", category = "CRM" }')
    alice = options(config, "Alice@Example.test")
    assert alice.ack == AckPlan(category="CRM", move_to="Inbox/CRM")
    assert alice.ack.describe() == "category 'CRM', moved to Inbox/CRM"
    assert alice.screening.loop_identity == "contoso-crm"


def test_service_mailboxes_also_acknowledge_what_the_crm_did_not_take(home: Home, tmp_path: Path) -> None:
    config = published(home, tmp_path)
    logbook = options(config, "logbook@example.test")
    assert logbook.folder == "Inbox/Queue" and logbook.shared_logging
    assert logbook.ack == AckPlan(category="Logged", mark_read=True, move_to="Archive/Logged",
                                  touch_unaccepted=True)
    forward = options(config, "forward@example.test")
    assert forward.forward and forward.ack == AckPlan(delete=True, touch_unaccepted=True)
    assert options(config, "keep@example.test").ack.touch_unaccepted


def test_acknowledgement_and_shared_logging_are_validated() -> None:
    with pytest.raises(ValidationError, match="`delete` cannot be combined"):
        Acknowledgement(delete=True, move_to="Inbox/CRM")
    with pytest.raises(ValidationError, match="never Junk Email"):
        SharedLogging(queue_folder="Junk Email", storage_folder="Logged")
    with pytest.raises(ValidationError, match="never Junk Email"):
        SharedLogging(queue_folder="Inbox/Junk Email", storage_folder="Logged")
    with pytest.raises(ValidationError, match="must differ"):
        SharedLogging(queue_folder="Inbox", storage_folder="inbox")
    assert SharedLogging(storage_folder="Inbox/Logged").queue_folder == "Inbox"


def test_a_bad_shared_logging_folder_is_reported_with_its_file_and_key(home: Home, tmp_path: Path) -> None:
    bad = MAILBOXES.replace('queue_folder = "Inbox/Queue"', 'queue_folder = "Junk Email"')
    with pytest.raises(ProfileValidationError) as caught:
        published(home, tmp_path, mailboxes=bad)
    [problem] = caught.value.problems
    assert problem.file.endswith("main.toml") and problem.key.startswith("queues[0].shared_logging")
    assert "never Junk Email" in problem.message
