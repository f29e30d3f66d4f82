"""Lanes planned from a published configuration, and the registry the pipelines plug into."""

from __future__ import annotations

import pytest

from router.config import Direction, MailboxAssignment, Profile, PublishedConfig, load_published
from router.errors import ConfigError
from router.home import Home
from router.runtime.lane import LaneKey
from router.runtime.outcome import WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.service.plan import EXCHANGE_ONLINE_HOST, LanePlanner, server_of
from tests.unit.service.conftest import MAILBOXES, PROFILES, SETTINGS, Publisher

IN, OUT = Direction.INCOMING, Direction.OUTGOING
ALICE, SUPPORT = "alice@example.test", "support@example.test"


def test_one_lane_per_mailbox_and_enabled_direction(home: Home, publisher: Publisher) -> None:
    publisher.publish()
    planned = LanePlanner().plan(load_published(home), {IN, OUT})
    assert sorted(planned) == [LaneKey(ALICE, IN), LaneKey(ALICE, OUT), LaneKey(SUPPORT, IN)]
    alice_in, alice_out = planned[LaneKey(ALICE, IN)].spec, planned[LaneKey(ALICE, OUT)].spec
    assert (alice_in.connection_group, alice_in.group_limit, alice_in.server, alice_in.crm) == (
        "in", 4, "mail.example.test", "main")
    assert (alice_out.connection_group, alice_out.group_limit, alice_out.server) == (
        "out", 2, "outbound.example.test")
    assert alice_in.policy.active_interval == 0.05 and alice_in.policy.idle_max_interval == 300.0
    assert alice_out.policy.sweep_interval == 300.0 and alice_out.policy.idle_max_interval == 120.0
    assert planned[LaneKey(SUPPORT, IN)].assignment.address == SUPPORT


def test_only_directions_with_a_pipeline_get_lanes(home: Home, publisher: Publisher) -> None:
    publisher.publish()
    assert sorted(LanePlanner().plan(load_published(home), {OUT})) == [LaneKey(ALICE, OUT)]


def fingerprints(config: PublishedConfig, planner: LanePlanner) -> dict[LaneKey, str]:
    return {k: p.spec.fingerprint for k, p in planner.plan(config, {IN, OUT}).items()}


def test_fingerprints_change_only_with_what_shapes_the_lane(home: Home, publisher: Publisher) -> None:
    planner = LanePlanner()
    publisher.publish()
    first = fingerprints(load_published(home), planner)
    publisher.publish(settings=SETTINGS.replace("log_level = 2", "log_level = 3"))
    assert fingerprints(load_published(home), planner) == first, "service settings do not rebuild lanes"
    publisher.publish(profiles=PROFILES.replace("max_connections = 2", "max_connections = 3"))
    changed = fingerprints(load_published(home), planner)
    assert changed[LaneKey(ALICE, OUT)] != first[LaneKey(ALICE, OUT)]
    assert changed[LaneKey(ALICE, IN)] == first[LaneKey(ALICE, IN)]
    publisher.set_password("a-new-password")
    publisher.publish(profiles=PROFILES.replace("max_connections = 2", "max_connections = 3"))
    rotated = fingerprints(load_published(home), planner)
    assert all(rotated[k] != changed[k] for k in rotated), "a new password rebuilds every lane using it"
    assert "a-new-password" not in repr(planner.plan(load_published(home), {IN}))


def test_fingerprints_are_keyed_per_planner(home: Home, publisher: Publisher) -> None:
    publisher.publish()
    config = load_published(home)
    assert fingerprints(config, LanePlanner()) != fingerprints(config, LanePlanner())


def test_server_scope_of_online_and_autodiscover_profiles() -> None:
    online = Profile.model_validate({"direction": "incoming", "server_type": "exchange_online",
                                     "autodiscover": True, "auth": "oauth", "credentials": "other_specified"},
                                    strict=False)
    onprem = online.model_copy(update={"server_type": "exchange_2019"})
    assert server_of(online, "a@contoso.com") == EXCHANGE_ONLINE_HOST
    assert server_of(onprem, "a@Contoso.COM") == "autodiscover:contoso.com"


def test_registry_builds_with_the_factory_of_the_direction(home: Home, publisher: Publisher) -> None:
    publisher.publish(mailboxes=MAILBOXES)
    config = load_published(home)
    seen: list[tuple[str, Direction, int]] = []

    def factory(assignment: MailboxAssignment, direction: Direction, cfg: PublishedConfig) -> object:
        seen.append((assignment.address, direction, cfg.version))
        return lambda ctx: WorkResult(processed=1)

    registry = LaneWorkRegistry()
    registry.register(IN, factory)  # type: ignore[arg-type]
    assert registry.directions() == {IN}
    with pytest.raises(ValueError, match="already registered"):
        registry.register(IN, factory)  # type: ignore[arg-type]
    alice = config.profiles.mailboxes()[0]
    work = registry.build(alice, IN, config)
    assert work(WorkContext(LaneKey(ALICE, IN))) == WorkResult(processed=1)
    assert seen == [(ALICE, IN, 1)]
    with pytest.raises(ConfigError, match="no pipeline serves outgoing mail") as caught:
        registry.build(alice, OUT, config)
    assert caught.value.mailbox == ALICE and "wiring.py" in caught.value.hint


def test_registry_releases_resources_in_reverse_even_when_one_fails(
        caplog: pytest.LogCaptureFixture) -> None:
    registry = LaneWorkRegistry()
    released: list[str] = []

    def broken() -> None:
        raise OSError("disk gone")

    registry.call_on_close(lambda: released.append("state store"))
    registry.call_on_close(broken)
    registry.call_on_close(lambda: released.append("crm gateway"))
    registry.close()
    registry.close()
    assert released == ["crm gateway", "state store"]
    assert any("releasing a pipeline resource failed" in r.getMessage() for r in caplog.records)


def test_the_registry_relays_wakes_to_the_service_bound_to_it() -> None:
    registry = LaneWorkRegistry()
    key = LaneKey("alice@example.test", Direction.INCOMING)
    assert registry.wake(key) is False, "no service bound yet"
    woken: list[LaneKey] = []
    registry.bind_waker(lambda k: woken.append(k) is None)
    assert registry.wake(key) is True and woken == [key]
