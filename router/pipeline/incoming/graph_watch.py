"""A Graph lane's stand-in for notifications: after each run its saved delta link goes to the poller.

EWS lanes are woken by streaming notifications (``notifications.NotificationHub``). Graph has none
on-premises (it needs a public webhook), so a Graph lane hands its saved delta link to
``router.graph.delta_poller.DeltaPoller``, which asks Graph about twenty mailboxes in one ``$batch``
and wakes the lane when its link reports a change. While watched, an idle lane waits for its sweep
like a lane with notifications; a lane with a backlog, or with notifications turned off
(``notification_streams = 0``), is not watched and backs off step by step.
"""

from __future__ import annotations

from router.graph.factory import GraphSpec
from router.pipeline.incoming.lane_deps import LaneDeps
from router.pipeline.incoming.options import LaneOptions
from router.runtime.lane import LaneKey
from router.runtime.outcome import WorkResult


def watch_delta(key: LaneKey, spec: GraphSpec, options: LaneOptions, deps: LaneDeps, owner: object,
                result: WorkResult) -> bool:
    """Register (or drop) ``key``'s delta link with the poller after a run; True while it is watched."""
    poller, graphs = deps.delta, deps.graphs
    if poller is None or graphs is None:
        return False
    if options.notification_streams == 0 or result.waiting > 0:
        poller.unwatch(key, owner=owner)
        return False
    client = graphs.client(spec)
    # A sweep Graph's standing "no change" answered read no page, so the saved link is the watched one:
    # no state-store read (most idle runs). Else the link the lane's sync saved.
    link = poller.quiet_link(key, client) if result.processed == 0 else None
    if link is None:
        link = deps.store.sync.get_state(options.mailbox, options.folder)
    return poller.watch(key, client, spec.mailbox, link, options.graph_poll_seconds, owner=owner,
                        active=result.processed > 0)
