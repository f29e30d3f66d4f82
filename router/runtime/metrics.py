"""The router's Prometheus metrics, kept in a registry of their own.

``Metrics`` owns a ``CollectorRegistry`` instead of using prometheus_client's global one, so tests and
several services in one process never collide. Pipelines and the scheduler record through its methods
(``fetched``, ``sent``, ``set_backlog``, ...) rather than touching metric objects, which keeps label
names and values consistent: mailbox addresses are lower-cased, free-text reasons are reduced to
``snake_case`` label values, and ``forget_mailbox`` removes every series of a mailbox that is unbound.

Series (all prefixed ``email_router_``)::

    messages_fetched_total{mailbox}                      incoming items fetched from Exchange
    messages_delivered_total{mailbox}                    incoming items delivered to the CRM
    messages_duplicate_total{mailbox}                    items the CRM already held (duplicate of activity X)
    messages_deferred_total{mailbox}                     items left for a later run (fetched again then)
    messages_screened_out_total{mailbox,reason}          loops, auto-replies, bounces, too large, ...
    messages_quarantined_total{mailbox,stage}            items set aside for an admin
    sends_total{mailbox}                                 outgoing emails submitted successfully
    send_failures_total{mailbox,kind}                    failed submissions by kind
    retries_total{mailbox,direction}                     work retried after a transient error
    throttle_events_total{mailbox,direction}             server back-off requests (ErrorServerBusy)
    incoming_latency_seconds                             arrival in Exchange -> CRM activity created
    outgoing_latency_seconds                             Pending Send -> Sent

Every fetched item has one fate per run, so ``fetched = delivered + duplicate + screened_out +
quarantined + deferred`` holds per mailbox (``router.pipeline.incoming.fates``).
    mailbox_backlog{mailbox,direction}                   items waiting
    mailbox_status{mailbox,direction,email_router_mailbox_status}
                                                         one series per state: not_run / success /
                                                         failure; 1 marks the current state
    mailbox_consecutive_failures{mailbox,direction}
    mailbox_last_success_timestamp_seconds{mailbox,direction}
    build_info{version}
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from importlib import metadata
from typing import Any, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, generate_latest

Direction = Literal["incoming", "outgoing"]
MailboxState = Literal["not_run", "success", "failure"]
"""The CRM mailbox statuses (``incomingemailstatus`` / ``outgoingemailstatus``: 0, 1, 2)."""

LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
                   86400.0)
"""Seconds: from a prompt delivery to a day's delay, the range in which an admin acts differently."""

_LABEL_JUNK = re.compile(r"[^a-z0-9]+")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Metrics:
    """Every metric the router exports, in ``self.registry``; see the module docstring for the series."""

    def __init__(self, namespace: str = "email_router") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._series: dict[str, set[tuple[Any, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()
        self._define_counters(namespace)
        self._define_latencies(namespace)
        self._define_mailbox_gauges(namespace)
        build = Info("build", "The running email-router version.", namespace=namespace,
                     registry=self.registry)
        build.info({"version": _version()})

    def _define_counters(self, ns: str) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, ("mailbox", *labels), namespace=ns, registry=self.registry)

        self._fetched = counter("messages_fetched", "Incoming items fetched from Exchange.")
        self._delivered = counter("messages_delivered", "Incoming items delivered to the CRM.")
        self._duplicates = counter("messages_duplicate", "Incoming items the CRM already held (or the ledger "
                                   "had finished): recorded as a duplicate of the activity.")
        self._deferred = counter("messages_deferred", "Incoming items left for a later run (failed alone, "
                                 "held elsewhere, cancelled); fetched and counted again then.")
        self._screened = counter("messages_screened_out", "Incoming items screened out, by reason.", "reason")
        self._quarantined = counter("messages_quarantined", "Items quarantined, by pipeline stage.", "stage")
        self._sends = counter("sends", "Outgoing emails submitted to Exchange.")
        self._send_failures = counter("send_failures", "Failed submissions, by kind.", "kind")
        self._retries = counter("retries", "Work retried after a transient error.", "direction")
        self._throttles = counter("throttle_events", "Server back-off requests honoured.", "direction")
        self._crm_requests = Counter("crm_requests", "Operations asked of a CRM (CheckIncomingEmail, "
                                     "BackgroundSendEmail, ...), per deployment and operation.",
                                     ("deployment", "operation"), namespace=ns, registry=self.registry)

    def _define_latencies(self, ns: str) -> None:
        self._incoming_latency = Histogram(
            "incoming_latency_seconds", "From arrival in Exchange to the CRM activity being created.",
            namespace=ns, buckets=LATENCY_BUCKETS, registry=self.registry)
        self._outgoing_latency = Histogram(
            "outgoing_latency_seconds", "From Pending Send in the CRM to Sent.",
            namespace=ns, buckets=LATENCY_BUCKETS, registry=self.registry)

    def _define_mailbox_gauges(self, ns: str) -> None:
        labels = ("mailbox", "direction")
        self._backlog = Gauge("mailbox_backlog", "Items waiting, per mailbox and direction.", labels,
                              namespace=ns, registry=self.registry)
        self._status = Enum("mailbox_status", "Mailbox status as the CRM records it.", labels, namespace=ns,
                            states=list(get_args(MailboxState)), registry=self.registry)
        self._failures = Gauge("mailbox_consecutive_failures", "Failures since the last success.", labels,
                               namespace=ns, registry=self.registry)
        self._last_success = Gauge("mailbox_last_success_timestamp_seconds",
                                   "Unix time of the last successful run.", labels, namespace=ns,
                                   registry=self.registry)

    # The CRM.

    def crm_request(self, deployment: str, operation: str) -> None:
        """Count one operation asked of ``deployment``'s CRM."""
        self._crm_requests.labels(deployment, operation).inc()

    # Incoming pipeline.

    def fetched(self, mailbox: str, count: int = 1) -> None:
        """Count ``count`` items fetched from ``mailbox``."""
        self._child(self._fetched, mailbox).inc(count)

    def delivered(self, mailbox: str, count: int = 1) -> None:
        """Count ``count`` items of ``mailbox`` delivered to the CRM."""
        self._child(self._delivered, mailbox).inc(count)

    def duplicate(self, mailbox: str) -> None:
        """Count one item of ``mailbox`` recorded as a duplicate of an activity the CRM holds."""
        self._child(self._duplicates, mailbox).inc()

    def deferred(self, mailbox: str) -> None:
        """Count one item of ``mailbox`` left unfinished for a later run."""
        self._child(self._deferred, mailbox).inc()

    def screened_out(self, mailbox: str, reason: str) -> None:
        """Count one item of ``mailbox`` screened out for ``reason`` (e.g. "auto_reply", "loop")."""
        self._child(self._screened, mailbox, label_value(reason)).inc()

    def quarantined(self, mailbox: str, stage: str) -> None:
        """Count one item of ``mailbox`` quarantined at ``stage`` (e.g. "deliver", "render")."""
        self._child(self._quarantined, mailbox, label_value(stage)).inc()

    def incoming_latency(self, seconds: float) -> None:
        """Record the time from an item's arrival in Exchange to its CRM activity."""
        self._incoming_latency.observe(max(0.0, seconds))

    # Outgoing pipeline.

    def sent(self, mailbox: str) -> None:
        """Count one email submitted from ``mailbox``."""
        self._child(self._sends, mailbox).inc()

    def send_failed(self, mailbox: str, kind: str) -> None:
        """Count one failed submission of ``kind`` (e.g. "transient", "send_as_denied")."""
        self._child(self._send_failures, mailbox, label_value(kind)).inc()

    def outgoing_latency(self, seconds: float) -> None:
        """Record the time from Pending Send to Sent."""
        self._outgoing_latency.observe(max(0.0, seconds))

    # Both directions.

    def retried(self, mailbox: str, direction: Direction) -> None:
        """Count one retry after a transient error."""
        self._child(self._retries, mailbox, _direction(direction)).inc()

    def throttled(self, mailbox: str, direction: Direction) -> None:
        """Count one server back-off request (ErrorServerBusy) honoured."""
        self._child(self._throttles, mailbox, _direction(direction)).inc()

    def set_backlog(self, mailbox: str, direction: Direction, items: int) -> None:
        """Set the number of items waiting in ``mailbox`` for ``direction``."""
        self._child(self._backlog, mailbox, _direction(direction)).set(items)

    def set_status(self, mailbox: str, direction: Direction, state: MailboxState,
                   consecutive_failures: int = 0, last_success: datetime | None = None) -> None:
        """Record ``mailbox``'s status for ``direction``, as written to the CRM's mailbox record."""
        if state not in get_args(MailboxState):
            raise ValueError(f"unknown mailbox state {state!r}; expected one of {get_args(MailboxState)}")
        way = _direction(direction)
        self._child(self._status, mailbox, way).state(state)
        self._child(self._failures, mailbox, way).set(consecutive_failures)
        if last_success is not None:
            self._child(self._last_success, mailbox, way).set(last_success.timestamp())

    def forget_mailbox(self, mailbox: str) -> None:
        """Remove every series of ``mailbox`` (it was unbound), so dashboards stop showing it."""
        with self._lock:
            series = self._series.pop(_mailbox(mailbox), set())
        for metric, labels in series:
            metric.remove(*labels)

    def exposition(self) -> bytes:
        """Return the registry in the Prometheus text format (what ``/metrics`` serves)."""
        return bytes(generate_latest(self.registry))

    def _child(self, metric: Any, mailbox: str, *rest: str) -> Any:
        """Return ``metric``'s child for these labels, remembering it for ``forget_mailbox``."""
        labels = (_mailbox(mailbox), *rest)
        with self._lock:
            self._series.setdefault(labels[0], set()).add((metric, labels))
        return metric.labels(*labels)


def label_value(text: str) -> str:
    """Return ``text`` as a short snake_case label value ("Auto-Reply", "AutoReply" -> "auto_reply")."""
    value = _LABEL_JUNK.sub("_", _CAMEL_HUMP.sub("_", text.strip()).lower()).strip("_")[:64]
    return value or "unknown"


def _mailbox(mailbox: str) -> str:
    return mailbox.strip().lower()


def _direction(direction: str) -> str:
    if direction not in get_args(Direction):
        raise ValueError(f"direction must be 'incoming' or 'outgoing', not {direction!r}")
    return direction


def _version() -> str:
    try:
        return metadata.version("email-router")
    except metadata.PackageNotFoundError:
        return "unknown"
