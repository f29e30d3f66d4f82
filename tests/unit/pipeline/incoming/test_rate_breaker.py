"""The per-sender rate breaker: a sliding window per (mailbox, sender), bounded memory."""

from __future__ import annotations

import threading

import pytest

from router.clock import FrozenClock
from router.errors import ConfigError
from router.pipeline.incoming import RateBreaker, RateLimit, SkipReason

MAILBOX = "sales@contoso.example"


def admitted(breaker: RateBreaker, count: int, sender: str = "a@fabrikam.example",
             mailbox: str = MAILBOX) -> list[bool]:
    return [breaker.admit(mailbox, sender).delivers for _ in range(count)]


def test_trips_after_the_limit_within_the_window(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=3, window_seconds=60))
    assert admitted(breaker, 5) == [True, True, True, False, False]
    decision = breaker.admit(MAILBOX, "a@fabrikam.example")
    assert decision.reason is SkipReason.RATE_LIMITED and decision.code == "rate-limited"
    assert "limit 3" in decision.text and "60 s" in decision.text


def test_the_window_slides_and_skipped_messages_do_not_count(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=2, window_seconds=60))
    assert admitted(breaker, 2) == [True, True]
    clock.advance(30)
    assert admitted(breaker, 3) == [False, False, False]
    clock.advance(30)  # the first two messages leave the window; the skipped ones never entered it
    assert admitted(breaker, 3) == [True, True, False]


def test_trip_text_says_when_the_next_message_passes(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=1, window_seconds=100))
    breaker.admit(MAILBOX, "a@fabrikam.example")
    clock.advance(40)
    assert "in 60 s" in breaker.admit(MAILBOX, "a@fabrikam.example").text


def test_counts_are_per_sender_and_per_mailbox_case_insensitively(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=1, window_seconds=60))
    assert admitted(breaker, 1, sender="A@Fabrikam.example") == [True]
    assert admitted(breaker, 1, sender="a@fabrikam.example") == [False]
    assert admitted(breaker, 1, sender="b@fabrikam.example") == [True]
    assert admitted(breaker, 1, mailbox="support@contoso.example") == [True]


def test_messages_without_a_sender_share_one_budget(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=2, window_seconds=60))
    assert [breaker.admit(MAILBOX, s).delivers for s in (None, "", "  ")] == [True, True, False]


def test_memory_is_bounded_by_forgetting_the_least_recent_pair(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=1, window_seconds=60, max_keys=3))
    for sender in ("a@x.example", "b@x.example", "c@x.example"):
        breaker.admit(MAILBOX, sender)
    assert breaker.admit(MAILBOX, "a@x.example").reason is SkipReason.RATE_LIMITED  # a is now most recent
    breaker.admit(MAILBOX, "d@x.example")  # evicts b, the least recently seen
    assert breaker.tracked() == 3
    assert breaker.admit(MAILBOX, "b@x.example").delivers  # forgotten, so it starts again
    assert breaker.admit(MAILBOX, "a@x.example").reason is SkipReason.RATE_LIMITED


def test_concurrent_lanes_never_admit_more_than_the_limit(clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=50, window_seconds=60))
    results: list[bool] = []
    lock = threading.Lock()

    def lane() -> None:
        outcome = admitted(breaker, 40)
        with lock:
            results.extend(outcome)

    threads = [threading.Thread(target=lane) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 50 and len(results) == 160


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"window_seconds": 0}, {"max_keys": 0}])
def test_invalid_limits_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="invalid sender rate limit") as caught:
        RateLimit(**kwargs)  # type: ignore[arg-type]
    assert "limit >= 1" in caught.value.hint
