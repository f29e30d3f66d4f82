"""Sync states per folder and process-from dates per mailbox."""

from __future__ import annotations

from datetime import timedelta

from router.clock import FrozenClock
from router.state import StateStore

from .conftest import T0

BOX = "user@x.test"


def test_a_folder_without_state_starts_a_full_sync(store: StateStore) -> None:
    assert store.sync.get_state(BOX, "inbox") is None


def test_states_are_saved_per_mailbox_and_folder(store: StateStore) -> None:
    store.sync.save_state(BOX, "inbox", "S1")
    store.sync.save_state(BOX, "inbox", "S2")
    store.sync.save_state(BOX, "queue", "Q1")
    store.sync.save_state("b@x.test", "inbox", "B1")
    assert store.sync.get_state(BOX, "inbox") == "S2"
    assert store.sync.get_state(BOX, "queue") == "Q1"
    assert store.sync.get_state("b@x.test", "inbox") == "B1"


def test_reset_forgets_one_folder_or_all(store: StateStore) -> None:
    store.sync.save_state(BOX, "inbox", "S1")
    store.sync.save_state(BOX, "queue", "Q1")
    assert store.sync.reset(BOX, "inbox") == 1
    assert store.sync.get_state(BOX, "inbox") is None and store.sync.get_state(BOX, "queue") == "Q1"
    assert store.sync.reset(BOX) == 1
    assert store.sync.get_state(BOX, "queue") is None


def test_process_from_is_set_once_to_now(store: StateStore, clock: FrozenClock) -> None:
    assert store.sync.process_from(BOX) is None
    assert store.sync.ensure_process_from(BOX) == T0
    clock.advance(3600)
    assert store.sync.ensure_process_from(BOX) == T0
    assert store.sync.process_from(BOX) == T0


def test_process_from_can_start_from_a_given_date(store: StateStore) -> None:
    start = T0 - timedelta(days=7)
    assert store.sync.ensure_process_from(BOX, default=start) == start


def test_backfill_moves_process_from_back(store: StateStore) -> None:
    store.sync.ensure_process_from(BOX)
    store.sync.set_process_from(BOX, T0 - timedelta(days=30))
    assert store.sync.process_from(BOX) == T0 - timedelta(days=30)
    store.sync.set_process_from("new@x.test", T0 - timedelta(days=1))
    assert store.sync.process_from("new@x.test") == T0 - timedelta(days=1)


def test_mailboxes_lists_every_known_mailbox(store: StateStore) -> None:
    store.sync.save_state("b@x.test", "inbox", "B1")
    store.sync.ensure_process_from("a@x.test")
    store.sync.ensure_process_from("b@x.test")
    assert store.sync.mailboxes() == ["a@x.test", "b@x.test"]


def test_process_from_now_drops_sub_second_so_mail_of_the_same_second_is_kept(store: StateStore,
                                                                               clock: FrozenClock) -> None:
    clock.advance(0.75)
    started = store.sync.ensure_process_from("late@example.test")
    assert started.microsecond == 0 and started <= clock.now()
