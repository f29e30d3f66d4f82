"""Metrics live in their own registry, carry consistent labels, and forget unbound mailboxes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from router.runtime.metrics import Metrics, label_value

A = "Anna@Contoso.com"


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_two_instances_do_not_share_series() -> None:
    first, second = Metrics(), Metrics()
    first.fetched(A, 3)
    assert value(first, "email_router_messages_fetched_total", mailbox="anna@contoso.com") == 3
    assert value(second, "email_router_messages_fetched_total", mailbox="anna@contoso.com") is None
    global_value = REGISTRY.get_sample_value("email_router_messages_fetched_total",
                                             {"mailbox": "anna@contoso.com"})
    assert global_value is None


def test_incoming_counters() -> None:
    metrics = Metrics()
    metrics.fetched(A, 5)
    metrics.delivered(A, 4)
    metrics.screened_out(A, "Auto-Reply")
    metrics.screened_out(A, "auto reply")
    metrics.quarantined(A, "deliver")
    assert value(metrics, "email_router_messages_delivered_total", mailbox="anna@contoso.com") == 4
    assert value(metrics, "email_router_messages_screened_out_total", mailbox="anna@contoso.com",
                 reason="auto_reply") == 2
    assert value(metrics, "email_router_messages_quarantined_total", mailbox="anna@contoso.com",
                 stage="deliver") == 1


def test_outgoing_counters_and_both_directions() -> None:
    metrics = Metrics()
    metrics.sent(A)
    metrics.send_failed(A, "SendAsDenied")
    metrics.retried(A, "outgoing")
    metrics.throttled(A, "incoming")
    assert value(metrics, "email_router_sends_total", mailbox="anna@contoso.com") == 1
    assert value(metrics, "email_router_send_failures_total", mailbox="anna@contoso.com",
                 kind="send_as_denied") == 1
    assert value(metrics, "email_router_retries_total", mailbox="anna@contoso.com", direction="outgoing") == 1
    assert value(metrics, "email_router_throttle_events_total", mailbox="anna@contoso.com",
                 direction="incoming") == 1
    with pytest.raises(ValueError, match="direction"):
        metrics.retried(A, "sideways")  # type: ignore[arg-type]


def test_latency_histograms_bucket_observations() -> None:
    metrics = Metrics()
    metrics.incoming_latency(12.0)
    metrics.incoming_latency(4000.0)
    metrics.outgoing_latency(-1.0)  # A clock step backwards counts as zero, not as a negative latency.
    assert value(metrics, "email_router_incoming_latency_seconds_count") == 2
    assert value(metrics, "email_router_incoming_latency_seconds_bucket", le="15.0") == 1
    assert value(metrics, "email_router_incoming_latency_seconds_bucket", le="7200.0") == 2
    assert value(metrics, "email_router_outgoing_latency_seconds_sum") == 0.0


def test_mailbox_gauges() -> None:
    metrics = Metrics()
    when = datetime(2026, 3, 4, tzinfo=UTC)
    metrics.set_backlog(A, "outgoing", 17)
    metrics.set_status(A, "incoming", "failure", consecutive_failures=3, last_success=when)
    labels = {"mailbox": "anna@contoso.com", "direction": "incoming"}
    outgoing = {"mailbox": "anna@contoso.com", "direction": "outgoing"}
    assert value(metrics, "email_router_mailbox_backlog", **outgoing) == 17
    assert value(metrics, "email_router_mailbox_status", **labels, email_router_mailbox_status="failure") == 1
    assert value(metrics, "email_router_mailbox_status", **labels, email_router_mailbox_status="success") == 0
    assert value(metrics, "email_router_mailbox_consecutive_failures", **labels) == 3
    last_success = value(metrics, "email_router_mailbox_last_success_timestamp_seconds", **labels)
    assert last_success == when.timestamp()
    with pytest.raises(ValueError, match="unknown mailbox state"):
        metrics.set_status(A, "incoming", "stopped")  # type: ignore[arg-type]


def test_forget_mailbox_removes_all_its_series_only() -> None:
    metrics = Metrics()
    for mailbox in (A, "queue@contoso.com"):
        metrics.fetched(mailbox)
        metrics.screened_out(mailbox, "loop")
        metrics.set_backlog(mailbox, "incoming", 2)
        metrics.set_status(mailbox, "outgoing", "success")
    metrics.forget_mailbox(" anna@contoso.com")
    text = metrics.exposition().decode()
    assert "anna@contoso.com" not in text
    assert text.count('mailbox="queue@contoso.com"') >= 4
    metrics.forget_mailbox("never-seen@contoso.com")


def test_exposition_has_help_and_build_info() -> None:
    text = Metrics().exposition().decode()
    assert "# HELP email_router_sends_total Outgoing emails submitted to Exchange." in text
    assert "email_router_build_info{version=" in text


@pytest.mark.parametrize(("raw", "label"), [
    ("Auto-Reply", "auto_reply"), ("  ", "unknown"), ("ErrorServerBusy!", "error_server_busy"),
    ("x" * 100, "x" * 64)])
def test_label_values_are_tidy(raw: str, label: str) -> None:
    assert label_value(raw) == label
