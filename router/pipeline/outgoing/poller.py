"""Outgoing polling per deployment: one question per cycle covers every served mailbox of a CRM.

Asking the CRM for Pending Send e-mail mailbox by mailbox costs a request per mailbox per poll, which
at thousands of idle mailboxes is thousands of requests a minute doing nothing. ``PendingSendPoller``
asks instead, every ``outgoing_poll_seconds``, once per deployment: it hands back the e-mails stuck
in Sending of all the deployment's served mailboxes (``release_stuck_sending``), then asks which of
them have e-mail to send (``pending_send_mailboxes``, which claims nothing) and wakes only those
mailboxes' lanes. A woken lane claims its own e-mails with BackgroundSendEmail as before, so claiming,
the per-mailbox rate limit and exactly-once do not change; an idle mailbox costs nothing but its
share of one question. A mailbox watched after a poll (the service starting its lanes one after the
other, a new configuration) is polled once the burst of new mailboxes pauses (``QUIET_SECONDS``), within
``SETTLE_SECONDS``, not a whole cycle later.

Mailbox ids are asked about in chunks of ``CHUNK``; a Dynamics request names a few mailboxes in its
filter or, beyond that, filters by status alone (``router.crm.dynamics.senders``), so its URL stays
within IIS limits and the requests per cycle do not grow with the number of mailboxes. A lane still
runs at its sweep interval when nothing wakes it, so a failing poll (the CRM down) delays mail but
loses none; lanes release their own mailbox's stuck e-mails when the poller has not done so lately
(``covers``), as in a lane run outside the service (``drain``, tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from router.config.published import PublishedConfig
from router.errors import RouterError
from router.runtime.lane import LaneKey
from router.runtime.resources import Resources

log = logging.getLogger(__name__)

CHUNK = 10_000
"""Mailbox ids per question: the gateways keep a request within its limits themselves (Dynamics filters
by status alone beyond a few mailboxes), so this only bounds one SQLite statement's parameters."""
SETTLE_SECONDS = 0.25
"""A mailbox newly watched (the service starting, a configuration applied) is polled this soon instead of
a whole period later, at the latest; the mailboxes watched meanwhile share that one poll."""
QUIET_SECONDS = 0.02
"""A burst of newly watched mailboxes is over when none has come for this long: the poll then runs at once
(the lanes of a small service, built within milliseconds, do not wait the whole ``SETTLE_SECONDS``)."""
FRESH_CYCLES = 2.5
"""A deployment polled within this many cycles counts as covered: its lanes leave stuck mail to the poll."""


@dataclass(frozen=True)
class Member:
    """One served outgoing mailbox: its lane, its CRM mailbox and the configuration its lane was built for."""

    key: LaneKey
    mailbox_id: str
    deployment: str
    config: PublishedConfig
    owner: object


class PendingSendPoller:
    """See the module docstring. ``poll`` is one cycle; ``start`` runs cycles on a thread until ``close``."""

    def __init__(self, resources: Resources, wake: Callable[[LaneKey], bool]) -> None:
        self._resources = resources
        self._wake = wake
        self._members: dict[LaneKey, Member] = {}
        self._polled: dict[str, float] = {}
        self._pending: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watched = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()
        self._period = 0.0
        """``outgoing_poll_seconds`` of the latest member's configuration (``covers`` is asked by every
        lane run: it must not copy 10,000 members to find one)."""
        self._version = 0
        """Counts changes of ``_members``: the grouping by deployment is made again only after one."""
        self._plan: tuple[int, dict[str, _Plan]] | None = None
        self._last_poll = float("-inf")
        """When the loop's latest poll ended (real time): see ``_settle``."""

    def watch(self, member: Member) -> None:
        """Cover ``member``'s mailbox from now on (replacing an older lane of the same mailbox)."""
        with self._lock:
            new = member.key not in self._members
            self._members[member.key] = member
            self._period = _period(member.config)
            self._version += 1
        if new:
            self._watched.set()

    def unwatch(self, key: LaneKey, owner: object) -> None:
        """Stop covering ``key``, unless a newer lane (another ``owner``) watches it now."""
        with self._lock:
            member = self._members.get(key)
            if member is not None and member.owner is owner:
                del self._members[key]
                self._version += 1

    def covers(self, deployment: str) -> bool:
        """True when a running poll handed back this deployment's stuck e-mails lately."""
        with self._lock:
            polled = self._polled.get(deployment)
            members, period = bool(self._members), self._period
        if polled is None or self._thread is None or not members:
            return False
        return self._resources.clock.monotonic() - polled <= FRESH_CYCLES * period

    def quiet(self, deployment: str, mailbox_id: str) -> bool:
        """True when a recent poll covered ``deployment`` and found no e-mail to send for ``mailbox_id``:
        a lane run that nothing woke (its sweep) need not ask the CRM."""
        with self._lock:
            pending = self._pending.get(deployment)
        return pending is not None and mailbox_id.lower() not in pending and self.covers(deployment)

    def poll(self) -> set[LaneKey]:
        """One cycle over every deployment; the lanes woken."""
        woken: set[LaneKey] = set()
        for deployment, plan in self._plans().items():
            woken |= self._poll_deployment(deployment, plan)
        return woken

    def start(self) -> None:
        """Run ``poll`` every ``outgoing_poll_seconds`` on a background thread (idempotent)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._loop, name="outgoing-poll", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._watched.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    # Internals.

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._watched.clear()
            with self._lock:
                members, period = bool(self._members), self._period
            if members:
                self._guarded_poll()
                self._last_poll = time.monotonic()
            if self._watched.wait(period if members else 1.0):
                self._settle()  # A new mailbox: poll again soon, with the rest of the burst.

    def _settle(self) -> None:
        """Wait until mailboxes stop being watched (none for ``QUIET_SECONDS``), ``SETTLE_SECONDS`` at most:
        lanes built together (the service starting, a configuration applied) share one poll, and a poll
        does not wait longer than the burst lasts. Polls that new mailboxes bring forward stay at least
        ``SETTLE_SECONDS`` apart, so a long start-up (10,000 lanes built one by one) asks the CRM no
        more often than before."""
        now = time.monotonic()  # Real time, as the waits on the events are.
        deadline, earliest = now + SETTLE_SECONDS, self._last_poll + SETTLE_SECONDS
        while not self._stop.is_set():
            self._watched.clear()
            now = time.monotonic()
            if now >= deadline:
                return
            quiet = not self._watched.wait(min(QUIET_SECONDS, deadline - now))
            if quiet and time.monotonic() >= earliest:
                return

    def _guarded_poll(self) -> None:
        try:
            self.poll()
        except Exception:  # A bug here must not end polling; lanes still sweep meanwhile.
            log.exception("the outgoing poll failed; it is tried again next cycle")

    def _plans(self) -> dict[str, _Plan]:
        """The members grouped by deployment and CRM mailbox id, made again only after a change (a
        poll every few seconds over 10,000 unchanged members need not regroup them)."""
        with self._lock:
            if self._plan is not None and self._plan[0] == self._version:
                return self._plan[1]
            version, members = self._version, list(self._members.values())
        groups: dict[str, list[Member]] = {}
        for member in members:
            groups.setdefault(member.deployment, []).append(member)
        plans = {deployment: _Plan.of(group) for deployment, group in groups.items()}
        with self._lock:
            self._plan = (version, plans)
        return plans

    def _poll_deployment(self, deployment: str, plan: _Plan) -> set[LaneKey]:
        config, by_id, ids = plan.config, plan.by_id, plan.ids
        settings = config.profiles.settings
        pending: set[str] = set()
        try:
            gateway = self._resources.gateway(config, deployment)
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                gateway.release_stuck_sending(chunk, timedelta(seconds=settings.sending_status_delay_seconds))
                pending |= gateway.pending_send_mailboxes(
                    chunk, pending_status_delay=timedelta(seconds=settings.pending_status_delay_seconds))
        except RouterError as exc:
            self._report(deployment, exc)
            return set()
        self._recovered(deployment)
        with self._lock:
            self._polled[deployment] = self._resources.clock.monotonic()
            self._pending[deployment] = frozenset(m.lower() for m in pending)
        due = [m.key for mailbox_id in pending for m in by_id.get(mailbox_id.lower(), ())]
        return {key for key in due if self._wake(key)}

    def _report(self, deployment: str, error: RouterError) -> None:
        if deployment not in self._failing:
            self._failing.add(deployment)
            log.warning("asking CRM deployment %s for e-mail to send failed (%s); its mailboxes are polled "
                        "one by one at their sweep interval until it answers", deployment, error)

    def _recovered(self, deployment: str) -> None:
        if deployment in self._failing:
            self._failing.discard(deployment)
            log.info("CRM deployment %s answers the outgoing poll again", deployment)


@dataclass(frozen=True)
class _Plan:
    """One deployment's members: the newest configuration among them, and them by CRM mailbox id."""

    config: PublishedConfig
    by_id: dict[str, list[Member]]
    ids: list[str]

    @classmethod
    def of(cls, members: Sequence[Member]) -> _Plan:
        by_id: dict[str, list[Member]] = {}
        for member in members:
            by_id.setdefault(member.mailbox_id.lower(), []).append(member)
        return cls(max((m.config for m in members), key=lambda c: c.version), by_id, sorted(by_id))


def _period(config: PublishedConfig) -> float:
    return float(config.profiles.settings.outgoing_poll_seconds)
