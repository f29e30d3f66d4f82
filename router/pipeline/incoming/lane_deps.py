"""What every incoming lane shares with the others, passed to its steps as one value."""

from __future__ import annotations

from dataclasses import dataclass

from router.clock import Clock
from router.crm.gateway import CrmGateway
from router.ews import AccountFactory
from router.graph.delta_poller import DeltaPoller
from router.graph.factory import GraphFactory
from router.pipeline.incoming.checkpoints import Checkpoint
from router.pipeline.incoming.notifications import NotificationHub
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.state import StateStore


@dataclass(frozen=True)
class LaneDeps:
    """What a lane shares with the others: store, EWS accounts, CRM gateway, clock, notification hub,
    checkpoint hook, the service's metrics, Graph clients and the Graph delta poller."""

    store: StateStore
    accounts: AccountFactory
    gateway: CrmGateway
    clock: Clock
    hub: NotificationHub | None
    checkpoint: Checkpoint
    metrics: Metrics
    graphs: GraphFactory | None = None
    """Graph clients for lanes whose profile uses ``transport = "graph"``."""
    delta: DeltaPoller[LaneKey] | None = None
    """Watches idle Graph mailboxes by their delta links (Graph's stand-in for notifications)."""
