"""The scheduler's due queue: lanes by due time, one heap per *bucket* of lanes that wait together.

A bucket is a connection group (a profile, whose ``max_connections`` caps its lanes at work) with the
throttling scopes of its lanes (Exchange server, CRM deployment). Lanes of one bucket can start only
together: when the group is full or a scope asks to back off, none of them can. So a tick looks at the
head of each bucket (a handful) and starts the earliest due head whose bucket is open, again and again;
lanes of a closed bucket are not touched. A single heap would have to pop and push back every due
lane of a full group on every tick, and a tick comes after every run: with 20,000 lanes due at once
(a start-up), each run's tick would cost a pass over all of them.

An entry counts only while its sequence number is the lane's ``queued``: a lane whose due time moved
has one live entry, and stale ones are dropped when they reach a head. Not thread-safe by itself: the
scheduler holds its lock.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from router.runtime.lane import LaneSpec
from router.service.lanestate import LaneState

Bucket = tuple[str, str, str]
"""Connection group, server scope, CRM scope."""
_Entry = tuple[float, tuple[str, str], int, LaneState]
"""Due time, the spec's order, sequence number (unique, so the lane itself is never compared)."""
Live = Callable[[LaneState, int], bool]
"""Whether a lane's entry with this sequence number still counts."""
Open = Callable[[Bucket, LaneSpec], bool]
"""Whether a lane of this bucket may start now (its group has a free slot, no scope backs off)."""


def bucket_of(spec: LaneSpec) -> Bucket:
    """The bucket a lane waits in."""
    return spec.connection_group, spec.server_scope, spec.crm_scope


class DueQueue:
    """See the module docstring."""

    def __init__(self) -> None:
        self._heaps: dict[Bucket, list[_Entry]] = {}
        self._seq = 0

    def push(self, lane: LaneState) -> None:
        """Queue ``lane`` at its (new) due time; its older entries become stale. A lane due never
        (``inf``) is not queued."""
        if lane.due == float("inf"):
            lane.queued = -1
            return
        self._seq += 1
        lane.queued = self._seq
        heap = self._heaps.setdefault(bucket_of(lane.spec), [])
        heapq.heappush(heap, (lane.due, lane.spec.order, self._seq, lane))

    def pop_due(self, now: float, live: Live, is_open: Open) -> LaneState | None:
        """The earliest lane due by ``now`` whose bucket is open, taken off the queue; None if none."""
        best: _Entry | None = None
        best_bucket: Bucket | None = None
        for bucket, heap in list(self._heaps.items()):
            while heap and not live(heap[0][3], heap[0][2]):
                heapq.heappop(heap)
            if not heap:
                del self._heaps[bucket]
                continue
            head = heap[0]
            if head[0] > now or (best is not None and head[:3] >= best[:3]):
                continue
            if is_open(bucket, head[3].spec):
                best, best_bucket = head, bucket
        if best is None or best_bucket is None:
            return None
        heapq.heappop(self._heaps[best_bucket])
        return best[3]

    def __len__(self) -> int:
        """Entries held, stale ones included."""
        return sum(len(heap) for heap in self._heaps.values())
