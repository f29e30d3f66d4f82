"""A drained streaming connection the server does not end is cut, and its mailboxes catch up.

The server takes a notification it wrote as delivered; cutting a read short can lose ones written but
not read yet. So every lane the cut connection carried is woken to sync now, not at its next sweep.
"""

from __future__ import annotations

from router.config.profile import Direction
from router.pipeline.incoming.notify_channel import Channel
from router.runtime.lane import LaneKey

ALICE = LaneKey("alice@contoso.com", Direction.INCOMING)
BOB = LaneKey("bob@contoso.com", Direction.INCOMING)


class HeldCall:
    """A streaming call whose read is still open."""

    def __init__(self) -> None:
        self.interrupted = 0

    def interrupt(self, *, drain: bool = False) -> None:
        self.interrupted += 1


def channel(woken: list[LaneKey]) -> Channel:
    def wake(key: LaneKey) -> bool:
        woken.append(key)
        return True

    return Channel("test", 30, accounts=None, wake=wake, retry=(1.0, 60.0))  # type: ignore[arg-type]


def test_cutting_a_connection_wakes_every_mailbox_it_carried() -> None:
    woken: list[LaneKey] = []
    subject = channel(woken)
    call = HeldCall()
    subject._call, subject._call_streams = call, {"sid-a": ALICE, "sid-b": BOB}  # type: ignore[assignment]
    subject._cut(call)  # type: ignore[arg-type]
    assert call.interrupted == 1
    assert sorted(woken, key=str) == sorted([ALICE, BOB], key=str)


def test_a_connection_that_ended_by_itself_is_not_cut_and_wakes_nobody() -> None:
    woken: list[LaneKey] = []
    subject = channel(woken)
    ended, current = HeldCall(), HeldCall()
    subject._call, subject._call_streams = current, {"sid-a": ALICE}  # type: ignore[assignment]
    subject._cut(ended)  # type: ignore[arg-type]
    assert (ended.interrupted, current.interrupted, woken) == (0, 0, [])
