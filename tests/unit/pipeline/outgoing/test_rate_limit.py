"""The send rate limiter caps each mailbox per window, never blocks, and keeps mailboxes independent."""

from __future__ import annotations

import threading

import pytest

from router.clock import FrozenClock
from router.pipeline.outgoing.rate_limit import EXCHANGE_ONLINE_RATE, SendRate, SendRateLimiter

A = "anna@contoso.com"
B = "queue@contoso.com"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def test_default_is_exchange_online_thirty_a_minute(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock)
    assert SendRate(30, 60.0) == EXCHANGE_ONLINE_RATE
    assert [limiter.try_acquire(A) for _ in range(30)] == [0.0] * 30
    assert limiter.try_acquire(A) == pytest.approx(60.0)
    clock.advance(59.5)
    assert limiter.try_acquire(A) == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.try_acquire(A) == 0.0


def test_each_token_returns_one_window_after_it_was_spent(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(3, 10.0))
    for _ in range(3):
        assert limiter.try_acquire(A) == 0.0
        clock.advance(2)
    assert limiter.try_acquire(A) == pytest.approx(4.0)  # The first send (t=0) frees at t=10; now t=6.
    clock.advance(4)
    assert limiter.try_acquire(A) == 0.0
    assert limiter.try_acquire(A) == pytest.approx(2.0)  # The second send (t=2) frees at t=12.


def test_no_window_ever_holds_more_than_the_limit(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(5, 10.0))
    sent: list[float] = []
    for _ in range(400):
        wait = limiter.try_acquire(A)
        if wait == 0.0:
            sent.append(clock.monotonic())
            clock.advance(0.7)
        else:
            clock.advance(wait)
    for index, start in enumerate(sent):
        assert sum(1 for instant in sent[index:] if instant < start + 10.0) <= 5
    duration = sent[-1] - sent[0]
    assert len(sent) - 1 <= 5 * (duration / 10.0) + 5  # Long-run throughput is the configured rate.


def test_a_busy_mailbox_does_not_hold_back_another(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(2, 60.0))
    limiter.try_acquire(A)
    limiter.try_acquire(A)
    assert limiter.try_acquire(A) > 0
    assert limiter.try_acquire(B) == 0.0
    assert limiter.try_acquire(" ANNA@Contoso.com ") > 0  # The same mailbox, however it is spelled.


def test_peeking_does_not_spend(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(1, 60.0))
    assert limiter.wait_time(A) == 0.0
    assert limiter.wait_time(A) == 0.0
    assert limiter.try_acquire(A) == 0.0
    assert limiter.wait_time(A) == pytest.approx(60.0)


def test_per_mailbox_rates_and_reconfiguration(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(1, 60.0), per_mailbox={B: SendRate(3, 60.0)})
    assert [limiter.try_acquire(B) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    limiter.configure(B, None)
    assert limiter.wait_time(B) == pytest.approx(60.0)  # Sends already made still count.
    limiter.configure(A, SendRate(2, 60.0))
    assert [limiter.try_acquire(A) for _ in range(2)] == [0.0, 0.0]


def test_server_back_off_pauses_only_that_mailbox(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock)
    limiter.hold_off(A, 30.0)
    limiter.hold_off(A, 5.0)  # A shorter pause never shortens a longer one.
    assert limiter.try_acquire(A) == pytest.approx(30.0)
    assert limiter.try_acquire(B) == 0.0
    clock.advance(30.0)
    assert limiter.try_acquire(A) == 0.0


def test_forget_clears_history(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(1, 60.0))
    limiter.try_acquire(A)
    limiter.hold_off(A, 500)
    limiter.forget(A)
    assert limiter.try_acquire(A) == 0.0


def test_concurrent_callers_never_overspend(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock)
    granted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            if limiter.try_acquire(A) == 0.0:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 30


@pytest.mark.parametrize(("messages", "seconds"), [(0, 60.0), (30, 0.0), (-1, 1.0)])
def test_impossible_rates_are_refused(messages: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="send rate"):
        SendRate(messages, seconds)


def test_available_says_how_many_may_go_now_and_spends_nothing(clock: FrozenClock) -> None:
    limiter = SendRateLimiter(clock, SendRate(3, 10.0))
    assert limiter.available(A) == 3
    limiter.try_acquire(A)
    clock.advance(2)
    limiter.try_acquire(A)
    assert (limiter.available(A), limiter.available(A)) == (1, 1)
    limiter.try_acquire(A)
    assert limiter.available(A) == 0
    clock.advance(8)  # The first send frees its token.
    assert limiter.available(A) == 1
    limiter.hold_off(A, 5)
    assert limiter.available(A) == 0, "a server back-off holds every send"
    assert limiter.available(B) == 3
