"""An idle sweep of a mailbox: one SyncFolderItems page and no state-store write; the first new message
after it still moves the saved sync state on."""

from __future__ import annotations

from typing import Any

import pytest

from router.state.sync import SyncStates
from tests.flows.incoming.rig import ALICE, CAROL, Rig, binding

pytestmark = pytest.mark.flow


def test_a_sweep_that_finds_nothing_saves_no_sync_state(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    saved: list[str | None] = []
    real = SyncStates.save_state

    def counting(self: SyncStates, mailbox: str, folder: str, state: str | None, **kwargs: Any) -> None:
        saved.append(state)
        real(self, mailbox, folder, state, **kwargs)

    monkeypatch.setattr(SyncStates, "save_state", counting)
    rig.publish(binding("users", ALICE))
    rig.drain(ALICE)
    assert len(saved) == 1, "the first synchronisation saves the state it reached"
    rig.drain(ALICE)
    rig.drain(ALICE)
    assert len(saved) == 1, "idle sweeps write nothing"

    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="after", body="body",
                           message_id="<after@fabrikam.com>")
    rig.drain(ALICE)
    assert len(rig.activities("<after@fabrikam.com>")) == 1
    assert len(saved) >= 2 and saved[-1] != saved[0], "a page with changes moves the saved state on"
    with rig.store() as store:
        assert store.sync.get_state(ALICE, "Inbox") == saved[-1]
