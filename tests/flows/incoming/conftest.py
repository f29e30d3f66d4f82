"""Fixtures of the incoming flows: the EWS simulator over HTTPS, the embedded CRM, a published home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib.autodiscover import clear_cache
from exchangelib.protocol import close_connections

from router.home import Home
from router.simulator import Controller
from tests.flows.incoming.rig import Rig, make_rig
from tests.support.ews_simulator import ews_schema, ews_simulator, ews_tls_dir

__all__ = ["ews_schema", "ews_simulator", "ews_tls_dir"]

pytestmark = pytest.mark.flow


@pytest.fixture
def rig(home: Home, ews_simulator: Controller, tmp_path: Path) -> Iterator[Rig]:
    """A home published against the simulator and the embedded CRM (see ``rig``)."""
    made = make_rig(home, ews_simulator, tmp_path)
    yield made
    made.crm.close()
    close_connections()
    clear_cache()
