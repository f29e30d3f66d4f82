"""Test Access over many mailboxes: pick them, test them in parallel, record what was found.

``AccessRun(config, resources)`` resolves the mailboxes of a published configuration as the service
would (the CRM's Load Data merged with the bindings, ignoring the CRM's enabled flags, since Test
Access is what enables them), then ``run`` tests each one (``AccessChecker``), optionally sends a
round-trip probe, and, with ``record``:

* writes the result to the CRM's mailbox record (``record_mailbox_test``: incoming / outgoing status,
  completion time, and enablement for each direction that passed, as Test & Enable does); a direction
  not tested keeps the status the CRM had;
* resumes, in the state store, each stopped mailbox direction that passed, so a running service starts
  it again (``MailboxHealthMonitor.resumed``).

A mailbox direction the router does not serve (not approved, another delivery method, no profile) is
reported as not tested, with the reason, and does not count as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from router.config.profile import Direction
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.codes import MailboxTestStatus
from router.crm.gateway import MailboxInfo, MailboxTestResult
from router.errors import RouterError, UsageError
from router.runtime.connections import connection_spec
from router.runtime.graph_connections import graph_spec, is_graph
from router.runtime.resources import Resources
from router.service.access import AccessChecker, Check
from router.service.directory import DirectoryView, MailboxDirectory
from router.service.probe import RoundTrip, round_trip
from router.service.probe_graph import graph_round_trip
from router.service.roster import RosterEntry
from router.state import Direction as StateDirection


@dataclass(frozen=True)
class Target:
    """One mailbox to test: its served assignment (if any) and its directory entry per direction."""

    mailbox: str
    deployment: str
    role: str
    assignment: MailboxAssignment | None
    entries: dict[Direction, RosterEntry]
    info: MailboxInfo | None


@dataclass(frozen=True)
class AccessOptions:
    """How to run: which mailboxes (empty: all), the probe, recording, and how many at once."""

    mailboxes: tuple[str, ...] = ()
    probe: bool = False
    probe_timeout: float = 60.0
    record: bool = True
    parallel: int = 4


@dataclass(frozen=True)
class AccessReport:
    """One mailbox's Test Access: both checks, the probe, and what was recorded."""

    mailbox: str
    deployment: str
    role: str
    incoming: Check
    outgoing: Check
    probe: RoundTrip | None = None
    probe_note: str = ""
    recorded: str = ""
    resumed: tuple[Direction, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """True when a check failed or a probe was sent and did not arrive."""
        probe_failed = self.probe is not None and not self.probe.arrived
        return self.incoming.failed or self.outgoing.failed or probe_failed or self.probe_note.startswith(
            "failed")

    @property
    def tested(self) -> bool:
        """True when at least one direction was actually tested (a Not Run check proves nothing)."""
        return any(c.status is not MailboxTestStatus.NOT_RUN for c in (self.incoming, self.outgoing))

    @property
    def passed(self) -> bool:
        """True when something was tested and nothing failed."""
        return self.tested and not self.failed

    def check(self, direction: Direction) -> Check:
        """The check of ``direction``."""
        return self.incoming if direction is Direction.INCOMING else self.outgoing


def loop_identity(config: PublishedConfig, deployment: str) -> str:
    """The loop identity the mailboxes of ``deployment`` stamp on what they send (probes too)."""
    published = config.profiles.deployments.get(deployment)
    return published.loop_name(deployment) if published is not None else deployment


class AccessRun:
    """Test Access for the mailboxes of one published configuration; see the module docstring."""

    def __init__(self, config: PublishedConfig, resources: Resources) -> None:
        self._config = config
        self._resources = resources

    def directory(self) -> DirectoryView:
        """The mailboxes as the service would see them, with the CRM's enabled flags ignored."""
        directory = MailboxDirectory(self._resources.gateway, clock=self._resources.clock)
        return directory.resolve(self._config, ignore_enabled=True)

    def targets(self, view: DirectoryView, wanted: Sequence[str] = ()) -> list[Target]:
        """Every mailbox of ``view`` (or those named, any case); UsageError names unknown ones."""
        by_mailbox: dict[str, dict[Direction, RosterEntry]] = {}
        for entry in view.roster.entries:
            by_mailbox.setdefault(entry.mailbox.lower(), {})[entry.direction] = entry
        names = [w.strip().lower() for w in wanted] or sorted(by_mailbox)
        unknown = [n for n in names if n not in by_mailbox]
        if unknown:
            raise UsageError(f"no mailbox {', '.join(unknown)} in published version {self._config.version} "
                             "or the CRM's Load Data",
                             hint="`email-router status` lists the mailboxes; check the address, the "
                             "bindings and that the CRM routes the user or queue through the E-mail Router")
        return [self._target(view, by_mailbox[n]) for n in dict.fromkeys(names)]

    def run(self, targets: Sequence[Target], options: AccessOptions,
            on_done: Callable[[AccessReport], None] = lambda report: None) -> list[AccessReport]:
        """Test every target, ``options.parallel`` at a time; ``on_done`` hears of each as it ends."""
        reports: list[AccessReport] = []
        with ThreadPoolExecutor(max_workers=max(1, min(options.parallel, len(targets) or 1)),
                                thread_name_prefix="test-access") as pool:
            futures = [pool.submit(self.test, target, options) for target in targets]
            for future in as_completed(futures):
                report = future.result()
                reports.append(report)
                on_done(report)
        return sorted(reports, key=lambda r: r.mailbox.lower())

    def test(self, target: Target, options: AccessOptions) -> AccessReport:
        """Test one mailbox (see the module docstring)."""
        checker = AccessChecker(self._config, self._resources.accounts, self._resources.clock,
                                graphs=self._resources.graphs, wait_seconds=options.probe_timeout)
        incoming = self._check(checker, target, Direction.INCOMING)
        outgoing = self._check(checker, target, Direction.OUTGOING)
        probe, note = self._probe(target, options, incoming, outgoing) if options.probe else (None, "")
        recorded = (self._record(target, incoming, outgoing) if options.record
                    else "not recorded (--no-record)")
        resumed = self._resume(target, incoming, outgoing) if options.record else ()
        return AccessReport(target.mailbox, target.deployment, target.role, incoming, outgoing, probe, note,
                            recorded, resumed)

    def _target(self, view: DirectoryView, entries: dict[Direction, RosterEntry]) -> Target:
        first = entries[Direction.INCOMING]
        return Target(first.mailbox, first.deployment, first.role.value, view.assignment(first.mailbox),
                      entries, view.info(first.mailbox))

    @staticmethod
    def _check(checker: AccessChecker, target: Target, direction: Direction) -> Check:
        entry = target.entries[direction]
        if not entry.served or target.assignment is None:
            return Check.not_run(entry.reason or "the router does not serve it")
        if direction is Direction.INCOMING:
            return checker.incoming(target.assignment)
        return checker.outgoing(target.assignment)

    def _probe(self, target: Target, options: AccessOptions, incoming: Check,
               outgoing: Check) -> tuple[RoundTrip | None, str]:
        passed = MailboxTestStatus.SUCCESS
        if target.assignment is None or incoming.status is not passed or outgoing.status is not passed:
            return None, "skipped: the probe needs both directions to pass"
        assignment = target.assignment
        graph = [is_graph(self._config, assignment, d) for d in (Direction.INCOMING, Direction.OUTGOING)]
        if all(graph):
            return self._graph_probe(target, options)
        if any(graph):
            return None, ("skipped: one direction is over Microsoft Graph and the other over EWS; the checks "
                          "of each direction above are the test")
        try:
            out_account = self._resources.accounts.account(
                connection_spec(self._config, assignment, Direction.OUTGOING))
            in_account = self._resources.accounts.account(
                connection_spec(self._config, assignment, Direction.INCOMING))
            trip = round_trip(out_account, in_account, assignment.address,
                              loop_identity=loop_identity(self._config, target.deployment),
                              clock=self._resources.clock, timeout=options.probe_timeout)
        except RouterError as exc:
            return None, f"failed: {exc.message}"
        return trip, trip.message

    def _graph_probe(self, target: Target, options: AccessOptions) -> tuple[RoundTrip | None, str]:
        """The round trip with Graph calls (``router.service.probe_graph``)."""
        assignment = target.assignment
        assert assignment is not None
        graphs = self._resources.graphs
        try:
            out_mailbox = graphs.mailbox(graph_spec(self._config, assignment, Direction.OUTGOING))
            in_mailbox = graphs.mailbox(graph_spec(self._config, assignment, Direction.INCOMING))
            trip = graph_round_trip(out_mailbox, in_mailbox, assignment.address,
                                    loop_identity=loop_identity(self._config, target.deployment),
                                    clock=self._resources.clock, timeout=options.probe_timeout)
        except RouterError as exc:
            return None, f"failed: {exc.message}"
        return trip, trip.message

    def _record(self, target: Target, incoming: Check, outgoing: Check) -> str:
        if target.info is None:
            return "not recorded: the CRM does not list this mailbox"
        info = target.info
        result = MailboxTestResult(
            info.mailbox_id,
            incoming.status if incoming.status is not MailboxTestStatus.NOT_RUN else info.incoming_status,
            outgoing.status if outgoing.status is not MailboxTestStatus.NOT_RUN else info.outgoing_status,
            self._resources.clock.now())
        try:
            self._resources.gateway(self._config, target.deployment).record_mailbox_test(result)
        except RouterError as exc:
            return f"not recorded: {exc.message}"
        statuses = ((Direction.INCOMING, result.incoming), (Direction.OUTGOING, result.outgoing))
        enabled = [d.value for d, status in statuses if status is MailboxTestStatus.SUCCESS]
        return "recorded; enabled for " + (" and ".join(enabled) if enabled else "nothing")

    def _resume(self, target: Target, incoming: Check, outgoing: Check) -> tuple[Direction, ...]:
        resumed: list[Direction] = []
        health = self._resources.store.health
        for direction, check in ((Direction.INCOMING, incoming), (Direction.OUTGOING, outgoing)):
            way = StateDirection(direction.value)
            if check.status is MailboxTestStatus.SUCCESS and health.get(target.mailbox.lower(), way).stopped:
                health.resume(target.mailbox.lower(), way)
                resumed.append(direction)
        return tuple(resumed)
