"""The outgoing lane: one mailbox's CRM emails leave through Exchange, within its send rate.

``OutgoingLanes(resources).build`` is the lane-work factory of the outgoing direction (registered in
``router.service.wiring``). Each run of a lane:

1. takes the mailbox's CRM mailbox from its assignment: the service's mailbox directory matched the
   address to the CRM's Load Data (``MailboxAssignment.crm_mailbox_id``). A mailbox it could not match
   (its CRM did not answer Load Data, so the published binding is served as it is) raises an alert and
   the run is idle; the directory rebuilds the lane once the CRM answers;
2. records as Sent what a dead worker submitted but did not record (``recover.finish_submitted``);
3. hands back the mailbox's e-mails stuck in Sending, claims Pending Send ones up to RequestBatchSize
   per request, as many as the mailbox may send now (up to ``MAX_BATCH``), at least one request's worth
   (``claim.claim_from_crm``) into the mailbox's backlog;
4. attempts them in batches of as many as the mailbox's ``SendRateLimiter`` lets it send now
   (``attempt.EmailAttempt.batch``: one transaction or CRM request per step for the whole batch).

A run never waits: when the rate limit holds the mailbox, it returns with ``resume_in`` and the worker
goes to other mailboxes. A transient failure ends the run the same way; when the error carries a
back-off (ErrorServerBusy's BackOffMilliseconds, a 5xx, a timeout), the run raises it after recording
the attempt, so that the scheduler holds back every lane of that server. A failure that stops the mailbox
(ErrorSendAsDenied, no mailbox, no rights, bad credentials) gives the emails still in the backlog back
to Pending Send with the reason, then raises, which stops the lane and leaves it to the admin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from router.config.profile import Direction
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.gateway import CrmGateway, OutgoingEmail
from router.errors import ConfigError, CrmError, StateStoreError, TransportError
from router.ews.connection import AccountFactory
from router.ews.spec import ConnectionSpec
from router.graph.factory import GraphFactory, GraphSpec
from router.mailbox.session import MailboxSession
from router.pipeline.incoming.screening import loop_header_value
from router.pipeline.outgoing.attempt import Attempted, BatchOutcome, EmailAttempt, Result, Sender
from router.pipeline.outgoing.claim import Backlog, SendClaimer, claim_from_crm
from router.pipeline.outgoing.failures import ALERT_NOT_IN_CRM, Failure
from router.pipeline.outgoing.poller import Member, PendingSendPoller
from router.pipeline.outgoing.rate_limit import SendRate, SendRateLimiter
from router.pipeline.outgoing.record import Recorder
from router.pipeline.outgoing.recover import finish_submitted
from router.pipeline.outgoing.steps import Checkpoint, no_checkpoint
from router.runtime.graph_connections import mailbox_spec
from router.runtime.lane import LaneKey
from router.runtime.outcome import IDLE, WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources

log = logging.getLogger(__name__)

MAX_BATCH = 50
"""Most emails attempted as one batch (their state writes and CRM updates shared); the backlog holds
at most RequestBatchSize anyway."""


class LaneAccount:
    """The lane's exchangelib account, built on first use; rebuilt when its endpoint failed (Autodiscover)."""

    def __init__(self, factory: AccountFactory, spec: ConnectionSpec) -> None:
        self._factory = factory
        self._spec = spec
        self._account: Any = None

    def get(self) -> Any:
        """The account of the lane's mailbox."""
        if self._account is None:
            self._account = self._factory.account(self._spec)
        return self._account

    def failed(self, error: TransportError) -> None:
        """Forget the account when ``error`` says its endpoint is wrong, so the next use discovers again."""
        if self._factory.endpoint_failed(self._spec, error):
            self._account = None

    @property
    def one_by_one(self) -> bool:
        """EWS submits several emails in one CreateItem."""
        return False


class GraphLaneAccount:
    """The lane's Graph session (the mailbox-session contract), built on first use; nothing to rediscover."""

    def __init__(self, factory: GraphFactory, spec: GraphSpec) -> None:
        self._factory = factory
        self._spec = spec
        self._session: MailboxSession | None = None

    def get(self) -> MailboxSession:
        """The session of the mailbox the lane sends from."""
        if self._session is None:
            self._session = self._factory.session(self._spec)
        return self._session

    def failed(self, error: TransportError) -> None:
        """Graph's root is fixed per cloud: the session stays."""

    @property
    def one_by_one(self) -> bool:
        """Graph sends several emails in one ``$batch`` (sendMail steps, router.graph.send_batch)."""
        return False


class OutgoingLanes:
    """The outgoing lane-work factory; one per service, sharing a rate limiter and the mailboxes' backlogs.

    ``checkpoint`` is called at every step of every email (``steps.Step``); the service passes none.
    """

    def __init__(self, resources: Resources, *, checkpoint: Checkpoint = no_checkpoint,
                 wake: Callable[[LaneKey], bool] | None = None) -> None:
        self._resources = resources
        self._checkpoint = checkpoint
        self._limiter = SendRateLimiter(resources.clock)
        self._backlogs: dict[str, Backlog] = {}
        self._lock = threading.Lock()
        # Claims start with the run's tag, so a restart of this instance can take them back at once.
        self.owner = f"{resources.identity.tag}:outgoing"
        self.poller = PendingSendPoller(resources, wake) if wake is not None else None

    @classmethod
    def install(cls, registry: LaneWorkRegistry, resources: Resources) -> OutgoingLanes:
        """Register outgoing lanes in ``registry``: the deployment poll wakes them through it, and stops
        with it."""
        lanes = cls(resources, wake=registry.wake)
        registry.register(Direction.OUTGOING, lanes.build)
        if lanes.poller is not None:
            registry.call_on_close(lanes.poller.close)
        return lanes

    def build(self, assignment: MailboxAssignment, direction: Direction,
              config: PublishedConfig) -> OutgoingLane:
        """Build the outgoing work of ``assignment``; a ConfigError says why the mailbox cannot be served."""
        if Direction(direction) is not Direction.OUTGOING:
            raise ConfigError(f"the outgoing pipeline cannot serve {direction} mail",
                              mailbox=assignment.address, hint="register it for the outgoing direction only")
        spec = mailbox_spec(config, assignment, Direction.OUTGOING)
        mailbox = assignment.address.strip().lower()
        rate = SendRate(config.profiles.settings.send_rate_per_minute, 60.0)
        self._limiter.configure(mailbox, rate)
        account: LaneAccount | GraphLaneAccount = (
            GraphLaneAccount(self._resources.graphs, spec) if isinstance(spec, GraphSpec)
            else LaneAccount(self._resources.accounts, spec))
        lane = OutgoingLane(self, config, assignment, account,
                            loop_identity=_loop_identity(config, assignment))
        if self.poller is not None and assignment.crm_mailbox_id is not None:
            self.poller.watch(Member(LaneKey(mailbox, Direction.OUTGOING), assignment.crm_mailbox_id,
                                     assignment.deployment, config, owner=lane))
            self.poller.start()
        return lane

    def backlog(self, mailbox: str) -> Backlog:
        """The backlog of ``mailbox``, created on first use and kept across rebuilds of its lane."""
        with self._lock:
            return self._backlogs.setdefault(mailbox, Backlog())

    @property
    def resources(self) -> Resources:
        """What the lanes share."""
        return self._resources

    @property
    def limiter(self) -> SendRateLimiter:
        """The per-mailbox send rate limiter."""
        return self._limiter

    @property
    def checkpoint(self) -> Checkpoint:
        """The hook told of every step."""
        return self._checkpoint


def _loop_identity(config: PublishedConfig, assignment: MailboxAssignment) -> str:
    deployment = config.profiles.deployments.get(assignment.deployment)
    if deployment is None:
        raise ConfigError(f"mailbox {assignment.address} names no deployment this configuration has",
                          mailbox=assignment.address, hint="bind the mailbox to a deployment and publish")
    return loop_header_value(deployment.loop_name(assignment.deployment))


class OutgoingLane:
    """The work of one mailbox's outgoing lane; see the module docstring."""

    def __init__(self, lanes: OutgoingLanes, config: PublishedConfig, assignment: MailboxAssignment,
                 account: LaneAccount | GraphLaneAccount, *, loop_identity: str) -> None:
        self._lanes = lanes
        self._config = config
        self._assignment = assignment
        self._account = account
        self._loop_identity = loop_identity
        self.mailbox = assignment.address.strip().lower()
        self._backlog = lanes.backlog(self.mailbox)

    def __call__(self, context: WorkContext) -> WorkResult:
        """One run: recover, claim, attempt within the rate limit."""
        resources = self._lanes.resources
        mailbox_id = self._assignment.crm_mailbox_id
        if mailbox_id is None:
            return self._not_in_crm()
        gateway = resources.gateway(self._config, self._assignment.deployment)
        settings = self._config.profiles.settings
        recorder = Recorder(gateway, resources.store, resources.metrics, self._lanes.checkpoint,
                            mailbox=self.mailbox, max_attempts=settings.maximum_delivery_attempts)
        claimer = SendClaimer(resources.store.sends, self._lanes.owner)
        processed = finish_submitted(resources.store.sends, claimer, recorder, self.mailbox)
        wait = self._lanes.limiter.wait_time(self.mailbox)
        if wait > 0:
            return WorkResult(processed, len(self._backlog), resume_in=wait)
        room = self._room(settings.request_batch_size)
        poller, deployment = self._lanes.poller, self._assignment.deployment
        if context.sweep and poller is not None and poller.quiet(deployment, mailbox_id):
            room = 0  # A sweep, and the deployment's poll just found nothing to send: no request of ours.
        covered = poller is not None and poller.covers(deployment)
        claimed = self._claim(gateway, mailbox_id, room, release_stuck=not covered)
        self._backlog.add(claimed)
        sender = Sender(self.mailbox, self._assignment.crm_mailbox_name or "", self._loop_identity)
        attempt = EmailAttempt(sender, self._account,
                               claimer=claimer, sends=resources.store.sends, recorder=recorder,
                               limiter=self._lanes.limiter, clock=resources.clock,
                               checkpoint=self._lanes.checkpoint)
        result = self._drain(context, attempt, recorder, processed)
        more = 1 if room > 0 and len(claimed) >= room and result.resume_in is None else 0
        return WorkResult(result.processed, result.waiting + more, result.resume_in, watched=covered)

    def _room(self, request_batch_size: int) -> int:
        """How many emails to claim now: a CRM request's worth (RequestBatchSize), or as many as the
        mailbox may send now when that is more (up to MAX_BATCH), so that one batch's state writes, CRM
        update and CreateItems carry them all; less what the backlog holds."""
        wanted = max(request_batch_size, min(self._lanes.limiter.available(self.mailbox), MAX_BATCH))
        return wanted - len(self._backlog)

    def _claim(self, gateway: CrmGateway, mailbox_id: str, room: int, *,
               release_stuck: bool) -> list[OutgoingEmail]:
        """Claim up to ``room`` Pending Send emails, RequestBatchSize per BackgroundSendEmail request."""
        settings = self._config.profiles.settings
        claimed: list[OutgoingEmail] = []
        while True:
            ask = min(room - len(claimed), settings.request_batch_size)
            got = claim_from_crm(gateway, mailbox_id, ask, settings,
                                 release_stuck=release_stuck and not claimed)
            claimed += got
            if ask <= 0 or len(got) < ask or len(claimed) >= room:
                return claimed

    def close(self) -> None:
        """The lane is retired or rebuilt: the deployment poll stops covering it (unless rebuilt)."""
        if self._lanes.poller is not None:
            self._lanes.poller.unwatch(LaneKey(self.mailbox, Direction.OUTGOING), owner=self)

    def _drain(self, context: WorkContext, attempt: EmailAttempt, recorder: Recorder,
               processed: int) -> WorkResult:
        """Attempt the backlog, as many at a time as the mailbox may send now, until it is empty, the
        mailbox must wait, or the service stops."""
        sent = False
        try:
            while self._backlog and not context.cancelled:
                room = min(self._lanes.limiter.available(self.mailbox), MAX_BATCH)
                if room <= 0:
                    return WorkResult(processed, len(self._backlog),
                                      resume_in=self._lanes.limiter.wait_time(self.mailbox))
                outcome = self._attempt(attempt, self._backlog.take_many(room))
                self._backlog.put_back_many(outcome.unattempted)
                processed += len(outcome.attempted)
                sent = sent or any(a.result in (Result.SENT, Result.FOUND) for _, a in outcome.attempted)
                stop = outcome.stop
                if stop is not None and stop.failure is not None and stop.failure.stops_lane:
                    self._stop_if_needed(stop, recorder)
                elif stop is not None:
                    return self._hold(stop, processed)
            return WorkResult(processed, len(self._backlog))
        finally:
            if sent:
                recorder.mailbox_works()

    def _attempt(self, attempt: EmailAttempt, emails: list[OutgoingEmail]) -> BatchOutcome:
        """Attempt ``emails``; if the CRM or the state store fails meanwhile, those whose attempt was not
        over are first in line next run.

        Any other exception is a bug: the emails are not put back, so that they cannot block the mailbox;
        the CRM hands them back after SendingStatusDelay.
        """
        try:
            return attempt.batch(emails)
        except (CrmError, StateStoreError):
            self._backlog.put_back_many(e for e in emails if e.email_id not in attempt.settled)
            raise

    def _hold(self, outcome: Attempted, processed: int) -> WorkResult:
        """A transient failure: the mailbox holds off, the rest of the backlog waits for the next run.

        When the error carries a back-off, it is raised for the scheduler to hold the whole server back
        (the scheduler also counts the throttling); otherwise the run ends with ``resume_in``.
        """
        failure = outcome.failure
        assert failure is not None, "only failed attempts are held"
        back_off = failure.back_off or 0.0
        self._lanes.limiter.hold_off(self.mailbox, back_off)
        if failure.throttles_server and outcome.error is not None:
            raise outcome.error
        self._lanes.resources.metrics.retried(self.mailbox, "outgoing")
        return WorkResult(processed, len(self._backlog), resume_in=back_off)

    def _stop_if_needed(self, outcome: Attempted, recorder: Recorder) -> None:
        """After a failure that stops the mailbox, give the backlog back with the reason, then raise."""
        failure, error = outcome.failure, outcome.error
        if failure is None or error is None or not failure.stops_lane:
            return
        reason = f"Not sent yet: the mailbox {self.mailbox} cannot send until an admin acts. {failure.reason}"
        waiting = Failure(reason, False, False, None, None, False, failure.label)
        for email in self._backlog.drain():
            recorder.failed(email.email_id, None, waiting)
        raise error

    def _not_in_crm(self) -> WorkResult:
        """The CRM's Load Data did not give this mailbox's CRM mailbox: nothing can be asked for it."""
        text = (f"mailbox {self.mailbox} is not matched to a mailbox of the CRM (its Load Data did not "
                "answer or does not list it); its outgoing lane sends nothing")
        _, new = self._lanes.resources.store.alerts.raise_alert(ALERT_NOT_IN_CRM, text, mailbox=self.mailbox)
        if new:
            log.warning("%s: check that the CRM answers (`email-router status`) and lists the mailbox's "
                        "address with the E-mail Router as its outgoing delivery method", text,
                        extra={"mailbox": self.mailbox})
        return IDLE
