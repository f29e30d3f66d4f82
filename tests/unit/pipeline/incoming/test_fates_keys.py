"""Ledger keys that tell items apart, the fingerprint difference a duplicate records, and fates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.pipeline.incoming.fates import Fate, fate_of
from router.pipeline.incoming.fingerprint import Fingerprint, difference, fingerprint
from router.pipeline.incoming.ledger_keys import ITEM_SUFFIX, ledger_key, message_key_of
from router.pipeline.incoming.parse import parse_message
from router.state import StateStore
from router.state.engine import sqlite_url
from tests.unit.pipeline.incoming.builders import mime

BOX = "bert@contoso.com"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(sqlite_url(tmp_path / "state.sqlite"), FrozenClock()) as opened:
        yield opened


def test_the_first_item_keeps_the_message_key_and_later_items_get_their_own(store: StateStore) -> None:
    assert ledger_key(store.ledger, BOX, "<m@x>", "item-1") == ("<m@x>", None)
    store.ledger.claim(BOX, "<m@x>", owner="w", item_id="item-1")
    assert ledger_key(store.ledger, BOX, "<m@x>", "item-1") == ("<m@x>", None), "the same item, re-read"
    second, first = ledger_key(store.ledger, BOX, "<m@x>", "item-2")
    third, _ = ledger_key(store.ledger, BOX, "<m@x>", "item-3")
    assert second.startswith("<m@x>" + ITEM_SUFFIX) and third != second
    assert first is not None and first.item_id == "item-1"
    assert ledger_key(store.ledger, BOX, "<m@x>", "item-2")[0] == second, "stable for one item"
    assert message_key_of(second) == "<m@x>" and message_key_of("<m@x>") == "<m@x>"
    assert ledger_key(store.ledger, "other@contoso.com", "<m@x>", "item-9") == ("<m@x>", None)


def test_one_batch_transaction_keys_a_second_item_of_a_message_key_as_separate_commits_would(
        store: StateStore) -> None:
    with store.ledger.batch() as batch:
        first_key, _ = ledger_key(batch, BOX, "<m@x>", "item-1")
        first = batch.claim(BOX, first_key, owner="w", item_id="item-1")
        second_key, earlier = ledger_key(batch, BOX, "<m@x>", "item-2")
        second = batch.claim(BOX, second_key, owner="w", item_id="item-2")
        again_key, _ = ledger_key(batch, BOX, "<m@x>", "item-1")
        again = batch.claim(BOX, again_key, owner="w", item_id="item-1")
    assert first_key == "<m@x>" and first.acquired and second.acquired
    assert second_key.startswith("<m@x>" + ITEM_SUFFIX), "the second item of the batch gets its own row"
    assert earlier is not None and earlier.id == first.entry.id, "it sees the first item's claim"
    assert again_key == "<m@x>" and again.entry.id == first.entry.id, "the same item twice: the same row"
    assert [store.ledger.get(BOX, k) is not None for k in (first_key, second_key)] == [True, True]
    assert ledger_key(store.ledger, BOX, "<m@x>", "item-2")[0] == second_key, "committed as one"


def test_a_batch_that_fails_claims_nothing(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.ledger.batch() as batch:
        batch.claim(BOX, "<m@x>", owner="w", item_id="item-1")
        raise RuntimeError("the batch failed")
    assert store.ledger.get(BOX, "<m@x>") is None


def test_the_difference_names_what_changed() -> None:
    first = fingerprint(parse_message(mime("Cc: a@x.example", body="one")))
    more_cc = fingerprint(parse_message(mime("Cc: a@x.example, b@x.example, c@x.example", body="one")))
    resent = fingerprint(parse_message(mime("Cc: a@x.example", "Subject: Re: other", body="two")))
    assert difference(first, first) == "the same content"
    assert difference(first, more_cc) == "Cc +b@x.example +c@x.example"
    assert difference(first, resent) == "another subject; another body"
    assert Fingerprint.from_text(more_cc.to_text()) == more_cc
    assert Fingerprint.from_text("not json") is None


@pytest.mark.parametrize(("result", "fate"), [
    ("delivered", Fate.DELIVERED), ("recovered", Fate.DELIVERED), ("duplicate", Fate.DUPLICATE),
    ("done", Fate.DUPLICATE), ("screened", Fate.SCREENED), ("refused", Fate.SCREENED),
    ("quarantined", Fate.QUARANTINED), ("deferred", Fate.DEFERRED), ("busy", Fate.DEFERRED),
    ("taken-over", Fate.DEFERRED),
])
def test_every_outcome_has_one_fate(result: str, fate: Fate) -> None:
    assert fate_of(result) is fate
