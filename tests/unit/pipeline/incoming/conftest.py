"""Fixtures for the incoming pipeline's pure steps."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.pipeline.incoming import ScreeningPolicy


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock the test moves explicitly."""
    return FrozenClock()


@pytest.fixture
def policy() -> ScreeningPolicy:
    """The default screening policy of a deployment whose loop identity is ``contoso-crm``."""
    return ScreeningPolicy(loop_identity="contoso-crm")
