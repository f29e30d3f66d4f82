"""Claims under contention: threads of one process and separate processes on one SQLite file."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from router.clock import FrozenClock
from router.state import ClaimOutcome, StateStore

from .conftest import T0

BOX = "user@x.test"


def test_threads_racing_for_one_message_yield_one_winner(store: StateStore) -> None:
    workers = 8
    barrier = threading.Barrier(workers)

    def claim(worker: int) -> ClaimOutcome:
        barrier.wait()
        return store.ledger.claim(BOX, "<race@x>", owner=f"w{worker}").outcome

    with ThreadPoolExecutor(workers) as pool:
        outcomes = Counter(pool.map(claim, range(workers)))
    assert outcomes == Counter({ClaimOutcome.NEW: 1, ClaimOutcome.BUSY: workers - 1})


def test_threads_claiming_many_messages_each_get_every_message_once(store: StateStore) -> None:
    keys = [f"<m{i}@x>" for i in range(40)]

    def claim_all(worker: int) -> list[str]:
        won = []
        for key in keys:
            claim = store.ledger.claim(BOX, key, owner=f"w{worker}")
            if claim.outcome is ClaimOutcome.NEW:
                store.ledger.mark_delivered(claim, f"act-{key}-{worker}")
                won.append(key)
        return won

    with ThreadPoolExecutor(4) as pool:
        winners = [key for won in pool.map(claim_all, range(4)) for key in won]
    assert sorted(winners) == sorted(keys)


def _claim_in_process(db_url: str, worker: int, keys: list[str], barrier: Any, results: Any) -> None:
    """Run in a separate process: claim every key, record the CRM delivery for the ones won.

    The second worker walks the keys backwards so that the two meet and fight in the middle.
    """
    with StateStore.open(db_url, FrozenClock(T0)) as store:
        barrier.wait()
        for key in keys if worker == 0 else reversed(keys):
            claim = store.ledger.claim(BOX, key, owner=f"p{worker}")
            if claim.outcome is ClaimOutcome.NEW:
                store.ledger.mark_delivered(claim, f"act-{worker}")
            results.put((worker, key, claim.outcome.value))


def test_processes_racing_for_the_same_messages_never_both_win(db_url: str) -> None:
    with StateStore.open(db_url, FrozenClock(T0)):
        pass  # create the schema once so that the processes race on claims, not on DDL
    keys = [f"<p{i}@x>" for i in range(60)]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_claim_in_process, args=(db_url, n, keys, barrier, results))
               for n in range(2)]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=60) for _ in range(2 * len(keys))]
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
        process.close()
    results.close()
    results.join_thread()
    new_per_key = Counter(key for _, key, outcome in outcomes if outcome == ClaimOutcome.NEW.value)
    assert new_per_key == Counter({key: 1 for key in keys})
    assert {outcome for _, _, outcome in outcomes} <= {ClaimOutcome.NEW.value, ClaimOutcome.BUSY.value}
    with StateStore.open(db_url, FrozenClock(T0)) as store:
        assert store.ledger.unfinished_count(BOX) == len(keys)
