"""The scheduler's due queue: the earliest due lane of an open bucket; closed buckets are not touched."""

from __future__ import annotations

from router.runtime.lane import LaneSpec
from router.service.duequeue import Bucket, DueQueue, Open, bucket_of
from router.service.lanestate import LaneState
from tests.unit.service.lanes_kit import ScriptedWork, spec


def lane(mailbox: str, due: float, *, group: str = "in", crm: str = "main") -> LaneState:
    return LaneState(spec(mailbox, group=group, crm=crm), ScriptedWork.of(), due)


def live(state: LaneState, seq: int) -> bool:
    return state.queued == seq and state.runnable


def everything_open(bucket: Bucket, lane_spec: LaneSpec) -> bool:
    return True


def drain(queue: DueQueue, now: float, is_open: Open = everything_open) -> list[str]:
    taken = []
    while (found := queue.pop_due(now, live, is_open)) is not None:
        found.queued = -1
        taken.append(found.spec.key.mailbox)
    return taken


def test_lanes_come_out_by_due_time_then_address_across_buckets_and_only_once_due() -> None:
    queue = DueQueue()
    for state in (lane("c@x.test", 2.0), lane("b@x.test", 1.0, group="out"),
                  lane("a@x.test", 2.0, crm="other"), lane("d@x.test", 9.0)):
        queue.push(state)
    assert drain(queue, now=5.0) == ["b@x.test", "a@x.test", "c@x.test"]
    assert drain(queue, now=9.0) == ["d@x.test"]
    assert len(queue) == 0


def test_a_closed_bucket_is_skipped_and_its_lanes_wait_in_place() -> None:
    queue = DueQueue()
    full = lane("a@x.test", 0.0, group="full")
    queue.push(full)
    for i in range(1000):
        queue.push(lane(f"f{i}@x.test", 0.0, group="full"))
    queue.push(lane("b@x.test", 1.0, group="open"))
    asked: list[Bucket] = []

    def only_open(bucket: Bucket, lane_spec: LaneSpec) -> bool:
        asked.append(bucket)
        return bucket[0] == "open"

    assert drain(queue, now=2.0, is_open=only_open) == ["b@x.test"]
    assert len(queue) == 1001, "the full group's lanes stay queued"
    assert asked.count(bucket_of(full.spec)) <= 2, "a closed bucket is asked about by its head alone"
    assert drain(queue, now=2.0)[:2] == ["a@x.test", "f0@x.test"]


def test_an_entry_whose_lane_moved_is_stale_and_dropped() -> None:
    queue = DueQueue()
    moved = lane("a@x.test", 1.0)
    queue.push(moved)
    moved.due = 5.0
    queue.push(moved)
    never = lane("b@x.test", float("inf"))
    queue.push(never)
    assert never.queued == -1 and len(queue) == 2
    assert drain(queue, now=2.0) == []
    assert drain(queue, now=5.0) == ["a@x.test"]
    assert len(queue) == 0
