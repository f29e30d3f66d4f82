"""A worker process killed at each step of the incoming pipeline: the re-run reaches the same result.

The pipeline here is the smallest faithful one: claim, ask the CRM to deliver (idempotent per
message, as CheckIncomingEmail makes it), record the activity, acknowledge on the server, finish. A
child process runs it and dies with ``os._exit`` at a chosen step, leaving whatever it committed;
the parent then runs it again as a new worker after the lease has run out, and checks that the
message ends acknowledged with exactly one CRM activity and one "delivered" decision.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.state import ClaimOutcome, Direction, LedgerStage, StateStore
from router.state.claims import DEFAULT_LEASE

from .conftest import T0

BOX = "user@x.test"
KEY = "<crash@x.test>"
CRASH_EXIT = 17


class FakeCrm:
    """A CRM that delivers each message once: a second delivery returns the first activity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS activity (key TEXT PRIMARY KEY, id TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS ack (key TEXT)")

    def deliver(self, key: str) -> str:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute("INSERT OR IGNORE INTO activity VALUES (?, ?)", (key, f"act-{os.getpid()}"))
            return str(db.execute("SELECT id FROM activity WHERE key = ?", (key,)).fetchone()[0])

    def acknowledge_on_server(self, key: str) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute("INSERT INTO ack VALUES (?)", (key,))

    def count(self, table: str) -> int:
        with closing(sqlite3.connect(self.path)) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def process_message(store: StateStore, crm: FakeCrm, owner: str, crash_at: str | None) -> ClaimOutcome:
    """The pipeline; ``crash_at`` names the step after which the process dies."""

    def step(name: str) -> None:
        if name == crash_at:
            os._exit(CRASH_EXIT)

    claim = store.ledger.claim(BOX, KEY, owner=owner, item_id="AAMk1", internet_message_id=KEY)
    if not claim.acquired:
        return claim.outcome
    step("claimed")
    if claim.entry.stage is LedgerStage.CLAIMED:
        activity = crm.deliver(KEY)
        step("crm-delivered")
        with store.db.write() as tx:
            store.ledger.mark_delivered(claim, activity, tx=tx)
            store.trail.record(direction=Direction.INCOMING, mailbox=BOX, message_key=KEY, stage="deliver",
                               result="delivered", internet_message_id=KEY, activity_id=activity, tx=tx)
        step("ledger-delivered")
    crm.acknowledge_on_server(KEY)
    step("server-acknowledged")
    store.ledger.mark_acknowledged(claim)
    return claim.outcome


def _run_child(db_url: str, crm_path: str, crash_at: str) -> None:
    with StateStore.open(db_url, FrozenClock(T0)) as store:
        process_message(store, FakeCrm(Path(crm_path)), "crashing-worker", crash_at)


@pytest.mark.parametrize("crash_at", ["claimed", "crm-delivered", "ledger-delivered", "server-acknowledged"])
def test_a_crash_at_any_step_reruns_to_the_same_result(tmp_path: Path, db_url: str, crash_at: str) -> None:
    crm = FakeCrm(tmp_path / "crm.sqlite")
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_run_child, args=(db_url, str(crm.path), crash_at))
    child.start()
    child.join(60)
    assert child.exitcode == CRASH_EXIT
    child.close()

    restart = FrozenClock(T0)
    restart.advance(DEFAULT_LEASE.total_seconds())
    with StateStore.open(db_url, restart) as store:
        assert [e.message_key for e in store.ledger.pending(BOX)] == [KEY]
        assert process_message(store, crm, "restarted-worker", None) is ClaimOutcome.RECOVERED
        entry = store.ledger.get(BOX, KEY)
        assert entry is not None and entry.stage is LedgerStage.ACKNOWLEDGED and entry.recoveries == 1
        assert crm.count("activity") == 1
        assert entry.activity_id == crm.deliver(KEY)
        assert [d.result for d in store.trail.for_message_id(KEY)] == ["delivered"]
        assert crm.count("ack") == (2 if crash_at == "server-acknowledged" else 1)
        assert process_message(store, crm, "third-worker", None) is ClaimOutcome.DONE


def test_an_uncrashed_run_is_new_then_done(tmp_path: Path, db_url: str) -> None:
    crm = FakeCrm(tmp_path / "crm.sqlite")
    with StateStore.open(db_url, FrozenClock(T0)) as store:
        assert process_message(store, crm, "w1", None) is ClaimOutcome.NEW
        assert process_message(store, crm, "w2", None) is ClaimOutcome.DONE
        assert crm.count("activity") == 1
