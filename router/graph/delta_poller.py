"""Idle Graph mailboxes watched by their delta links, twenty to a ``$batch``: Graph's stand-in for
change notifications.

Graph sends change notifications only to a public HTTPS webhook, which on-premises installations do
not have. Running every idle mailbox's lane to poll (a scheduler run, ledger and sync-state reads, one
delta GET) cost 2,000 idle mailboxes 17 % of a core. Instead, a lane that found nothing registers its
saved delta link here (``watch``) and sleeps until its sweep; the poller asks Graph for the changes of
up to ``MAX_STEPS`` registered links in one ``$batch`` (``Prefer: odata.maxpagesize=1``: one change is
enough to know), each link about every ``interval`` seconds. Links wait in a heap by when they are
due; when one is due, the batch is filled with the links due soonest after it (up to ``EARLY`` of
their wait ahead), so links registered at different moments share full batches. A mailbox whose link
reports a change, or fails for a reason other than throttling (the lane's own run then reports it), is
dropped and its lane woken; the lane registers again after its run. The poller never saves a link: the
lane's sync does, once it has processed the page, so nothing can be skipped. A "no change" answer
stands until the link's next question (``router.graph.quiet``): a lane's sweep meanwhile asks nothing.

A mailbox that just had mail is asked again soon (``FAST_SECONDS``, doubling per empty answer up to
``interval``): replies and follow-ups come in bursts. A mailbox Graph holds back (Retry-After) is not
asked until it may be; a throttled step waits as its Retry-After says.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from router.clock import Clock
from router.errors import TransportError
from router.graph.client import GraphClient
from router.graph.errors import retry_after

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)

MAX_STEPS = 20
"""Graph's limit of steps in one JSON batch."""
FAST_SECONDS = 2.0
"""The first wait after a mailbox had mail; it doubles per empty answer up to the interval."""
EARLY = 0.2
"""Links due within this fraction of their wait fill the batch of a link due now."""
PAUSE_MIN, PAUSE_MAX = 0.05, 1.0
"""Bounds of the poller thread's sleep until the next link is due (seconds)."""
BATCH_KEY = "$batch:delta"
"""The throttle key of the poller's own requests: a throttled batch holds back only the poller."""
STEP_HEADERS = {"Prefer": "odata.maxpagesize=1"}


@dataclass
class _Watched(Generic[K]):
    """One registered mailbox: where its delta link is asked, and when next."""

    key: K
    owner: object
    client: GraphClient
    mailbox: str
    link: str
    interval: float
    wait: float
    due: float

    @property
    def step_url(self) -> str:
        """The link relative to the Graph root, as a batch step names it."""
        return self.link[len(self.client.graph_url):]


class DeltaPoller(Generic[K]):
    """Asks Graph, in batches, whether registered mailboxes changed; wakes their lanes. Thread-safe."""

    def __init__(self, wake: Callable[[K], object], clock: Clock, *, fast: float = FAST_SECONDS,
                 background: bool = True) -> None:
        """``background``: poll in a thread of its own (started by the first ``watch``); else the
        caller calls ``poll_due``."""
        self._wake = wake
        self._clock = clock
        self._fast = fast
        self._background = background
        self._watched: dict[K, _Watched[K]] = {}
        self._woken: dict[K, float] = {}
        """The wait each woken mailbox had, resumed when its lane registers again."""
        self._heap: list[tuple[float, int, _Watched[K]]] = []
        """(due, tie-breaker, link); an item whose link was dropped or rescheduled since is skipped."""
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, key: K, client: GraphClient, mailbox: str, link: str | None, interval: float, *,
              owner: object, active: bool = False) -> bool:
        """Watch ``mailbox`` from its saved delta ``link``; False (not watched) when there is no link of
        ``client``'s Graph to ask. ``active``: the lane just had mail, so ask again soon."""
        if link is None or not link.startswith(client.graph_url + "/") or self._stop.is_set():
            self.unwatch(key, owner=owner)
            return False
        now = self._clock.monotonic()
        with self._lock:
            known = self._watched.get(key)
            if known is not None and known.client is client and not active:
                # A sweep, or the run after the lane's own changes: keep the mailbox's cadence.
                if known.link != link:
                    known.link = link
                    self._schedule(known, now + known.wait)
                known.owner, known.interval = owner, interval
            else:
                # Woken by a change that was only our own acknowledgement: go on at the pace it had.
                before = self._woken.pop(key, interval)
                wait = min(self._fast if active else before, interval)
                fresh = _Watched(key, owner, client, mailbox, link, interval, wait, 0.0)
                self._watched[key] = fresh
                self._schedule(fresh, now + wait)
            self._start()
        return True

    def unwatch(self, key: K, *, owner: object) -> None:
        """Stop watching ``key`` if ``owner`` (a lane's work) registered it."""
        with self._lock:
            known = self._watched.get(key)
            if known is not None and known.owner is owner:
                del self._watched[key]
                self._woken.pop(key, None)

    def quiet_link(self, key: K, client: GraphClient) -> str | None:
        """The link ``key`` is watched from, while Graph's last "no change" answer to it stands (a lane's
        sweep then read no page: its saved link is still this one); None otherwise."""
        with self._lock:
            known = self._watched.get(key)
        if known is None or known.client is not client:
            return None
        return known.link if client.quiet.quiet(known.mailbox, known.link) else None

    def watching(self, key: K) -> bool:
        with self._lock:
            return key in self._watched

    def close(self) -> None:
        """Stop the poller thread (a batch in flight finishes first)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30.0)
        with self._lock:
            self._watched.clear()
            self._woken.clear()
            self._heap.clear()

    def poll_due(self) -> int:
        """Ask about the links that are due, with those due soonest after them filling the batches;
        return how many were asked."""
        with self._lock:
            taken = self._take(self._clock.monotonic())
        clients: dict[int, list[_Watched[K]]] = {}
        for watched in taken:
            clients.setdefault(id(watched.client), []).append(watched)
        for members in clients.values():
            for start in range(0, len(members), MAX_STEPS):
                chunk = members[start:start + MAX_STEPS]
                try:
                    self._ask(chunk)
                except Exception:  # Asked again later; the lanes' sweeps run meanwhile.
                    log.exception("asking Graph about %d mailboxes' changes failed", len(chunk))
                    self._settle([(w, None) for w in chunk])
        return len(taken)

    def _schedule(self, watched: _Watched[K], due: float) -> None:
        """Make ``watched`` due at ``due`` (called with the lock held)."""
        watched.due = due
        heapq.heappush(self._heap, (due, next(self._order), watched))

    def _current(self) -> _Watched[K] | None:
        """The link due first, dropping stale heap items (called with the lock held)."""
        while self._heap:
            due, _, watched = self._heap[0]
            if self._watched.get(watched.key) is watched and watched.due == due:
                return watched
            heapq.heappop(self._heap)
        return None

    def _take(self, now: float) -> list[_Watched[K]]:
        """The due links, then the soonest due within ``EARLY`` of their wait up to a full batch
        (called with the lock held). Links Graph holds back are put back until they may be asked."""
        taken: list[_Watched[K]] = []
        held: list[tuple[_Watched[K], float]] = []
        while (first := self._current()) is not None:
            filling = bool(taken) and len(taken) % MAX_STEPS != 0 and first.due - EARLY * first.wait <= now
            if first.due > now and not filling:
                break
            heapq.heappop(self._heap)
            first.due = float("inf")  # in flight (or held back): not in the heap until rescheduled
            seconds = first.client.throttle.held_back(first.mailbox)
            if seconds > 0:
                held.append((first, now + seconds))
            else:
                taken.append(first)
        for watched, due in held:
            self._schedule(watched, due)
        return taken

    # The thread ---------------------------------------------------------------------------------

    def _start(self) -> None:
        """Start the thread on the first watch (called with the lock held)."""
        if self._thread is None and self._background:
            self._thread = threading.Thread(target=self._loop, name="graph-delta-poller", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._pause()):
            try:
                self.poll_due()
            except Exception:  # The poller must outlive any one answer; the lanes' sweeps still run.
                log.exception("polling Graph delta links failed; trying again")

    def _pause(self) -> float:
        with self._lock:
            first = self._current()
        if first is None:
            return PAUSE_MAX
        return min(PAUSE_MAX, max(PAUSE_MIN, first.due - self._clock.monotonic()))

    # One batch ----------------------------------------------------------------------------------

    def _ask(self, members: Sequence[_Watched[K]]) -> None:
        steps = [{"id": str(n), "method": "GET", "url": w.step_url, "headers": STEP_HEADERS}
                 for n, w in enumerate(members)]
        client = members[0].client
        try:
            response = client.request("POST", BATCH_KEY, "/$batch", json={"requests": steps})
            answers = response.json()["responses"]
            by_id: dict[str, dict[str, Any]] = {str(a.get("id")): a for a in answers if isinstance(a, dict)}
        except (TransportError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("asking Graph about %d mailboxes' changes failed (asked again later): %s",
                        len(members), exc)
            self._settle([(w, None) for w in members])
            return
        self._settle([(w, by_id.get(str(n))) for n, w in enumerate(members)])

    def _settle(self, outcomes: Sequence[tuple[_Watched[K], dict[str, Any] | None]]) -> None:
        """Reschedule quiet and throttled mailboxes; drop and wake the changed (or failed) ones."""
        now = self._clock.monotonic()
        woken: list[K] = []
        with self._lock:
            for watched, answer in outcomes:
                if self._watched.get(watched.key) is not watched:
                    continue  # re-registered or dropped while the batch was in flight
                verdict = _verdict(answer)
                if verdict == "quiet":
                    watched.wait = min(watched.interval, watched.wait * 2)
                    self._schedule(watched, now + watched.wait)
                    watched.client.quiet.note(watched.mailbox, watched.link, watched.wait)
                elif verdict == "later":
                    self._schedule(watched, now + max(watched.wait, _retry_after(watched, answer)))
                else:
                    del self._watched[watched.key]
                    self._woken[watched.key] = watched.wait
                    watched.client.quiet.forget(watched.mailbox)
                    woken.append(watched.key)
        for key in woken:
            self._wake(key)


def _verdict(answer: dict[str, Any] | None) -> str:
    """``quiet`` (no change), ``later`` (no answer, or throttled) or ``changed`` (a change, or an error
    the lane's own run must meet)."""
    if answer is None:
        return "later"
    status = int(answer.get("status") or 500)
    if status in (429, 503, 504):
        return "later"
    body = answer.get("body")
    if status == 200 and isinstance(body, dict) and not body.get("value") and "@odata.nextLink" not in body:
        return "quiet"
    return "changed"


def _retry_after(watched: _Watched[Any], answer: dict[str, Any] | None) -> float:
    """A throttled step's Retry-After, kept for its mailbox (503: the whole app) by the client."""
    if answer is None:
        return 0.0
    headers = {str(k): str(v) for k, v in dict(answer.get("headers") or {}).items()}
    seconds = retry_after(headers)
    status = int(answer.get("status") or 500)
    watched.client.throttle.back_off(watched.mailbox if status == 429 else None, seconds)
    return seconds
