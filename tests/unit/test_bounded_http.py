"""The deadline watchdog behind ``BoundedAdapter``: a late deadline never delays an earlier one."""

from __future__ import annotations

import time

from router.bounded_http import Watchdog, _Watch, total_seconds
from tests.support.hostile import wait_for


def test_an_earlier_deadline_armed_later_still_fires_first() -> None:
    watchdog = Watchdog()
    late, early, finished = _Watch(time.monotonic() + 600), _Watch(time.monotonic() + 0.2), _Watch(0)
    finished.done = True
    watchdog.arm(late)
    watchdog.arm(finished)
    watchdog.arm(early)
    assert wait_for(lambda: early.expired, timeout=30)
    assert not late.expired and not finished.expired
    late.done = True


def test_the_total_deadline_is_connect_plus_read() -> None:
    assert total_seconds((10, 120)) == 130 and total_seconds(5) == 5
    assert total_seconds(None) is None and total_seconds((10, None)) is None
