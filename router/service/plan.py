"""From a published configuration to the lanes the scheduler runs.

``LanePlanner.plan(config, directions, assignments)`` gives one ``PlannedLane`` per served mailbox
(from the mailbox directory: the CRM's Load Data merged with the published bindings) and direction
that has a profile: the ``LaneSpec`` (connection group = profile name and its ``max_connections``,
Exchange host, CRM deployment, back-off policy from the settings) and the ``MailboxAssignment`` the
pipeline needs to build the lane's work.

The fingerprint covers everything that shapes a lane's work: the assignment, its profile, its
deployment, the credentials it uses and the pipeline-relevant settings. It is a keyed hash (a random
key per planner, never stored), so it says nothing about the secrets it covers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from router.config.profile import Direction, Profile
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.errors import CredentialNotFoundError
from router.runtime.lane import LaneKey, LaneSpec
from router.runtime.policy import SchedulePolicy
from router.vault.credentials import to_plain

EXCHANGE_ONLINE_HOST = "outlook.office365.com"
SERVICE_SETTINGS = frozenset({"max_threads", "max_thread_execution_seconds", "scheduling_period_seconds",
                              "config_refresh_period_seconds", "log_level", "log_file"})
"""Settings the service applies itself; changing them does not rebuild lanes."""


@dataclass(frozen=True)
class PlannedLane:
    """One lane to run: how to schedule it, and the mailbox its work serves."""

    spec: LaneSpec
    assignment: MailboxAssignment


def server_of(profile: Profile, address: str) -> str:
    """The Exchange host a profile reaches for ``address``: its EWS URL's host, else a stand-in.

    Autodiscover finds the host only when connecting, so its lanes share one scope per mail domain;
    Exchange Online lanes share Microsoft's EWS host.
    """
    if profile.ews_url is not None and profile.ews_url.host:
        return profile.ews_url.host.lower()
    if profile.is_online:
        return EXCHANGE_ONLINE_HOST
    return "autodiscover:" + address.rsplit("@", 1)[-1].lower()


class LanePlanner:
    """Plans lanes; keeps the per-process key of the fingerprints."""

    def __init__(self, escalate_after: int | None = None) -> None:
        self._key = os.urandom(32)
        self._escalate_after = escalate_after

    def plan(self, config: PublishedConfig, directions: Collection[Direction],
             assignments: Iterable[MailboxAssignment] | None = None) -> dict[LaneKey, PlannedLane]:
        """Every lane of ``assignments`` (default: the published bindings) in ``directions``, by key."""
        planned: dict[LaneKey, PlannedLane] = {}
        shared: dict[tuple[str, str, str | None], bytes] = {}
        for assignment in config.profiles.mailboxes() if assignments is None else assignments:
            for direction in Direction:
                lane = self._lane(config, assignment, direction, shared) if direction in directions else None
                if lane is not None:
                    planned.setdefault(lane.spec.key, lane)
        return planned

    def _lane(self, config: PublishedConfig, assignment: MailboxAssignment, direction: Direction,
              shared: dict[tuple[str, str, str | None], bytes]) -> PlannedLane | None:
        profile_name = assignment.profile(direction)
        profile = config.profiles.profiles.get(profile_name or "")
        if profile_name is None or profile is None:
            return None
        credential = assignment.credential(direction)
        spec = LaneSpec(
            key=LaneKey(assignment.address, direction), connection_group=profile_name,
            group_limit=profile.max_connections, server=server_of(profile, assignment.address),
            crm=assignment.deployment,
            fingerprint=self._fingerprint(config, assignment, (profile_name, profile), credential, shared),
            policy=SchedulePolicy.for_direction(config.profiles.settings, direction,
                                                self._escalation(config)))
        return PlannedLane(spec, assignment)

    def _escalation(self, config: PublishedConfig) -> int:
        """Transient failures in a row that stop a lane: the planner's override, else the setting."""
        if self._escalate_after is not None:
            return self._escalate_after
        return config.profiles.settings.escalate_after_failures

    def _fingerprint(self, config: PublishedConfig, assignment: MailboxAssignment,
                     profile: tuple[str, Profile], credential: str | None,
                     shared: dict[tuple[str, str, str | None], bytes]) -> str:
        """The keyed hash of the assignment and of what it shares with the other lanes of its profile,
        deployment and credential (serialised once per plan: 20,000 lanes share a handful)."""
        key = (profile[0], assignment.deployment, credential)
        common = shared.get(key)
        if common is None:
            common = shared[key] = self._common(config, assignment.deployment, profile[1], credential)
        own = json.dumps(dataclasses.asdict(assignment), sort_keys=True, default=str).encode("utf-8")
        return hmac.new(self._key, own + b"\0" + common, hashlib.sha256).hexdigest()

    @staticmethod
    def _common(config: PublishedConfig, deployment_name: str, profile: Profile,
                credential: str | None) -> bytes:
        """What lanes of one profile, deployment and credential share, serialised."""
        deployment = config.profiles.deployments.get(deployment_name)
        names = [credential, deployment.dynamics.credential if deployment and deployment.dynamics else None]
        document: dict[str, Any] = {
            "profile": profile.model_dump(mode="json"),
            "deployment": deployment.model_dump(mode="json") if deployment else None,
            "credentials": [_credential(config, n) for n in names if n],
            "settings": config.profiles.settings.model_dump(mode="json", exclude=set(SERVICE_SETTINGS)),
        }
        return json.dumps(document, sort_keys=True, default=str).encode("utf-8")


def _credential(config: PublishedConfig, name: str) -> dict[str, Any]:
    """A credential's content; a missing one is left for the lane's factory to report."""
    try:
        return to_plain(config.credential(name))
    except CredentialNotFoundError:
        return {"missing": name}
