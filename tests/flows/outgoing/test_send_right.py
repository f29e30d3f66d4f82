"""detect_send_right: what the service account really holds on a user, asked of Exchange by a probe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from router.clock import FrozenClock
from router.config import Direction, Profile
from router.errors import AuthenticationError, ConfigError
from router.ews import AccountFactory
from router.pipeline.outgoing.send_right import (
    SendRight,
    SendRightProbe,
    detect_send_right,
    expected_right,
    mismatch,
    own_mailbox_spec,
)
from router.runtime.connections import connection_spec
from tests.flows.outgoing.world import ALICE, SVC, OutgoingWorld

pytestmark = pytest.mark.flow


@pytest.fixture
def accounts(crm_clock: FrozenClock) -> Iterator[AccountFactory]:
    with AccountFactory(crm_clock) as factory:
        yield factory


def probe(world: OutgoingWorld, accounts: AccountFactory,
          access: str = "send_as") -> tuple[Profile, SendRightProbe]:
    """Publish a profile with ``access``; probe the service account's right on Alice as Test Access does."""
    config = world.publish(access=access)
    assignment = next(m for m in config.profiles.mailboxes() if m.address == ALICE)
    spec = own_mailbox_spec(connection_spec(config, assignment, Direction.OUTGOING))
    return config.profiles.profiles["out"], detect_send_right(accounts, spec, ALICE, clock=world.clock)


@pytest.mark.parametrize(("rights", "found"), [
    (("send_as",), SendRight.SEND_AS),
    (("send_on_behalf",), SendRight.SEND_ON_BEHALF),
    (("send_as", "send_on_behalf"), SendRight.SEND_AS),
    (("full_access",), SendRight.NONE),
])
def test_the_probe_finds_the_right_the_account_holds_and_leaves_nothing_behind(
        world: OutgoingWorld, accounts: AccountFactory, rights: tuple[str, ...], found: SendRight) -> None:
    for right in rights:
        world.grant(right)
    _, result = probe(world, accounts)
    assert result.right is found, result.detail
    assert (result.account, result.principal) == (SVC, ALICE)
    for folder in ("inbox", "drafts", "sentitems"):
        assert world.inbox(SVC, folder) == [], f"the probe left something in the account's {folder}"
    assert world.inbox(ALICE, "sentitems") == [] and world.journal() == []


def test_a_send_as_profile_on_send_on_behalf_rights_is_reported_as_a_mismatch(
        world: OutgoingWorld, accounts: AccountFactory) -> None:
    world.grant("full_access")
    world.grant("send_on_behalf")
    profile, result = probe(world, accounts, access="send_as")
    assert expected_right(profile) is SendRight.SEND_AS
    text = mismatch(profile, result)
    assert text is not None and "only Send On Behalf" in text and f"'{SVC} on behalf of {ALICE}'" in text


def test_matching_rights_are_no_mismatch(world: OutgoingWorld, accounts: AccountFactory) -> None:
    world.grant("send_on_behalf")
    profile, result = probe(world, accounts, access="delegate")
    assert mismatch(profile, result) is None


def test_no_right_at_all_is_reported(world: OutgoingWorld, accounts: AccountFactory) -> None:
    profile, result = probe(world, accounts, access="delegate")
    text = mismatch(profile, result)
    assert text is not None and "ErrorSendAsDenied" in text


def test_a_probe_that_never_arrives_is_unknown_after_the_wait(world: OutgoingWorld,
                                                              accounts: AccountFactory) -> None:
    world.grant("send_as")
    world.sim.control.seed({"folders": [{"mailbox": SVC, "path": "Inbox/Parked"}],
                            "rules": [{"mailbox": SVC, "name": "park", "subject_contains": ["probe"],
                                       "move_to": "Inbox/Parked"}]})
    start = world.clock.monotonic()
    _, result = probe(world, accounts)
    assert result.right is SendRight.UNKNOWN and "did not reach" in result.detail
    assert world.clock.monotonic() - start >= 30.0, "it waited the full time (on the frozen clock)"


def test_wrong_credentials_are_raised_not_guessed(world: OutgoingWorld, accounts: AccountFactory) -> None:
    config = world.publish()
    assignment = next(m for m in config.profiles.mailboxes() if m.address == ALICE)
    spec = own_mailbox_spec(connection_spec(config, assignment, Direction.OUTGOING))
    world.sim.control.fault("http_401", "CreateItem")
    with pytest.raises(AuthenticationError):
        detect_send_right(accounts, spec, ALICE, clock=world.clock)


def test_an_account_name_that_is_no_address_needs_the_address_given(world: OutgoingWorld) -> None:
    config = world.publish()
    assignment = next(m for m in config.profiles.mailboxes() if m.address == ALICE)
    spec = connection_spec(config, assignment, Direction.OUTGOING)
    with pytest.raises(ConfigError, match="not an email address"):
        own_mailbox_spec(replace(spec, username="CONTOSO\\svc-crm"))
    assert own_mailbox_spec(replace(spec, username="CONTOSO\\svc-crm"), SVC).mailbox == SVC
