"""Fencing tokens at the embedded CRM: a call from a router instance that lost its lane is refused.

A router instance works a mailbox lane only while it holds the lane's lease; every hand-over of the
lease increments the lane's fencing token (``router.state.leases``). An instance paused (SIGSTOP, a VM
stall) right after checking its lease wakes up with a CRM call still to make, after another instance
took the lane over and may already have delivered the same message. No check in the paused process
can see that; the receiving side can, the way a fenced storage service does (Kleppmann, "How to do
distributed locking"): it remembers the highest token it has seen per lane and refuses a call carrying
a lower one. The embedded CRM does this for CheckIncomingEmail and DeliverIncomingEmail, inside the
call's own transaction, so the late call leaves no trace (no activity, no journal entry). A late call
that lands before the new holder's first call in the lane is admitted: it is then simply the old
holder's delivery, which the new holder finds (CheckIncomingEmail answers Duplicate) when it recovers
the message, as after a crash between the CRM's commit and the ledger's record.

A real Dynamics organisation cannot check tokens; there the router's own protocol bounds the window
(``router.runtime.lane_lease``). The token travels in process (``router.state.fencing.current_token``);
a call without one (a single instance, a tool) is not fenced.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from router.crm.embedded.schema import lane_fences
from router.errors import ClaimLostError
from router.state.fencing import LaneToken


def admit(conn: Connection, token: LaneToken | None) -> None:
    """Refuse (ClaimLostError) a call whose lane token is older than the newest seen; record it."""
    if token is None:
        return
    seen = conn.execute(select(lane_fences.c.token).where(lane_fences.c.lane == token.lane)).scalar()
    if seen is None:
        conn.execute(lane_fences.insert().values(lane=token.lane, token=token.token))
        return
    if seen > token.token:
        raise ClaimLostError(
            f"the CRM refused a call for lane {token.lane} with fencing token {token.token}: it has seen "
            f"token {seen}, so another router instance holds the lane now",
            hint="nothing was delivered; this instance lost the lane (it was paused or cut off past its "
            "lease) and the instance holding it now handles the message")
    if seen < token.token:
        conn.execute(update(lane_fences).where(lane_fences.c.lane == token.lane).values(token=token.token))
