"""Load Data meets the profiles: which mailbox directions the service serves, and why the others not.

``build_roster(profiles, loaded)`` is a pure function. ``loaded`` holds, per deployment, the mailboxes
the CRM's Load Data returned (users and queues whose incoming or outgoing delivery method is the
E-mail Router), or None when that CRM could not be asked (no CRM source, or Load Data failed with no
earlier answer to fall back on). The rules, as the legacy router's "Users, Queues, and Forward
Mailboxes" tab applied them:

* A CRM mailbox is served with the profiles of its binding in a profiles file when one names its
  address (or its ``crm_id``), else with its deployment's default profiles.
* The CRM decides *whether*: a mailbox whose address is not approved (when the organisation requires
  approval) is not served; a direction whose delivery method is not the E-mail Router is not served
  (a user whose incoming method is Forward Mailbox is read through the forward mailbox). With
  ``serve_only_enabled_mailboxes`` a direction must also be enabled by a passing Test Access.
* The profiles decide *how*: a binding can switch a direction off; a direction without a profile, or
  whose profile signs in with the mailbox's own credential when no binding names one, is not served.
* A binding the CRM's Load Data does not list is not served (the user or queue is missing, disabled,
  or does not use the router). Forward mailboxes are the router's own and are always served (incoming).
* Without Load Data for a deployment, its bindings are served as published.

Every mailbox direction gets a ``RosterEntry``; the ``reason`` of an unserved one is a sentence an
admin can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property
from uuid import UUID

from router.config.profile import CredentialSource, Direction
from router.config.profileset import MailboxAssignment, MailboxRole, ProfileSet
from router.crm.codes import Approval, IncomingDeliveryMethod, OutgoingDeliveryMethod, OwnerType
from router.crm.gateway import MailboxInfo


class Source(StrEnum):
    """Where a mailbox of the roster comes from."""

    CRM = "crm"
    """The CRM's Load Data only: served with its deployment's default profiles."""
    PUBLISHED = "published"
    """A profiles file only (a forward mailbox, or a CRM that could not be asked)."""
    BOTH = "both"
    """Listed by the CRM and bound in a profiles file."""


@dataclass(frozen=True)
class RosterEntry:
    """One mailbox direction: served, or not and why."""

    mailbox: str
    direction: Direction
    deployment: str
    role: MailboxRole
    source: Source
    served: bool
    reason: str = ""
    profile: str | None = None
    crm_mailbox_id: str | None = None


@dataclass(frozen=True)
class Roster:
    """The served mailboxes (directions not served have no profile) and an entry per mailbox direction."""

    assignments: tuple[MailboxAssignment, ...]
    entries: tuple[RosterEntry, ...]

    def assignment(self, mailbox: str) -> MailboxAssignment | None:
        """The served mailbox with this address (case-insensitive), if any."""
        return self._by_address.get(mailbox.strip().lower())

    def entry(self, mailbox: str, direction: Direction) -> RosterEntry | None:
        """The entry of one mailbox direction, if the mailbox is known."""
        return self._by_entry.get((mailbox.strip().lower(), direction))

    @cached_property
    def _by_address(self) -> dict[str, MailboxAssignment]:
        """The assignments by lower-case address (the first of an address wins, as a scan would find):
        a lookup per lane of 10,000s of mailboxes must not be a pass over all of them."""
        found: dict[str, MailboxAssignment] = {}
        for a in self.assignments:
            found.setdefault(a.address.lower(), a)
        return found

    @cached_property
    def _by_entry(self) -> dict[tuple[str, Direction], RosterEntry]:
        found: dict[tuple[str, Direction], RosterEntry] = {}
        for e in self.entries:
            found.setdefault((e.mailbox.lower(), e.direction), e)
        return found


NOT_IN_CRM = ("the CRM's Load Data does not list it: the user or queue is missing or disabled, has no "
              "e-mail address, or neither of its delivery methods is the E-mail Router; fix it in the CRM "
              "or remove the binding")
FORWARD_ONLY_RECEIVES = "forward mailboxes only receive mail"


def build_roster(profiles: ProfileSet, loaded: Mapping[str, Sequence[MailboxInfo] | None], *,
                 ignore_enabled: bool = False) -> Roster:
    """Merge Load Data (per deployment, None when unknown) with the published bindings; see the module.

    ``ignore_enabled`` leaves the CRM's enabled flags out even under ``serve_only_enabled_mailboxes``:
    Test Access tests the mailboxes it is about to enable.
    """
    builder = _Builder(profiles, not ignore_enabled and profiles.settings.serve_only_enabled_mailboxes)
    published = profiles.mailboxes()
    names = list(profiles.deployments) + sorted({a.deployment for a in published} - set(profiles.deployments))
    for name in names:
        mine = [a for a in published if a.deployment == name]
        infos = loaded.get(name)
        if infos is None:
            for assignment in mine:
                builder.published(assignment)
        else:
            builder.deployment(name, infos, mine)
    return Roster(tuple(builder.assignments), tuple(builder.entries))


class _Builder:
    """Collects assignments and entries while walking the deployments."""

    def __init__(self, profiles: ProfileSet, serve_only_enabled: bool) -> None:
        self.profiles = profiles
        self._serve_only_enabled = serve_only_enabled
        self.assignments: list[MailboxAssignment] = []
        self.entries: list[RosterEntry] = []
        self._seen: set[str] = set()

    def published(self, assignment: MailboxAssignment) -> None:
        """A mailbox served as its binding says, without the CRM's word."""
        reasons = {d: self._profile_reason(assignment, d, bound=True) for d in Direction}
        self._add(assignment, Source.PUBLISHED, reasons)

    def deployment(self, name: str, infos: Sequence[MailboxInfo], mine: list[MailboxAssignment]) -> None:
        """Merge one deployment's Load Data with its bindings."""
        bindings = [a for a in mine if a.role is not MailboxRole.FORWARD]
        matched: set[int] = set()
        for info in infos:
            index = _match(info, bindings)
            if index is not None:
                matched.add(index)
            self._crm_mailbox(name, info, bindings[index] if index is not None else None)
        for assignment in (a for a in mine if a.role is MailboxRole.FORWARD):
            self.published(assignment)
        for index, assignment in enumerate(bindings):
            if index not in matched:
                self._add(assignment, Source.PUBLISHED, dict.fromkeys(Direction, NOT_IN_CRM), served=False)

    def _crm_mailbox(self, deployment: str, info: MailboxInfo, binding: MailboxAssignment | None) -> None:
        role = MailboxRole.USER if info.owner_type is OwnerType.SYSTEMUSER else MailboxRole.QUEUE
        base = binding or self.profiles.default_assignment(role, info.address, deployment)
        assignment = replace(base, role=role, crm_id=base.crm_id or _uuid(info.owner.id),
                             crm_mailbox_id=info.mailbox_id, crm_mailbox_name=info.name,
                             process_from=base.process_from or info.process_email_received_after)
        reasons = {d: _crm_reason(info, d, self._serve_only_enabled)
                   or self._profile_reason(assignment, d, bound=binding is not None) for d in Direction}
        self._add(assignment, Source.BOTH if binding is not None else Source.CRM, reasons)

    def _profile_reason(self, assignment: MailboxAssignment, direction: Direction, *, bound: bool) -> str:
        """Why the profiles keep ``direction`` of ``assignment`` from being served ("" if they do not)."""
        if assignment.role is MailboxRole.FORWARD and direction is Direction.OUTGOING:
            return FORWARD_ONLY_RECEIVES
        name = assignment.profile(direction)
        if name is None:
            if bound and self._switched_off(assignment, direction):
                return f"its binding in the profiles sets `{direction.value} = false`"
            return (f"deployment {assignment.deployment!r} has no default {direction.value} profile: set "
                    f"default_{direction.value}_profile or bind the mailbox in a profiles file")
        credential = assignment.credential(direction)
        profile = self.profiles.profiles.get(name)
        if profile is not None and profile.credentials is CredentialSource.USER_SPECIFIED and not credential:
            return (f"profile {name!r} signs in with each mailbox's own credential: bind the mailbox in a "
                    "profiles file with `credential = ...` and publish")
        return ""

    def _switched_off(self, assignment: MailboxAssignment, direction: Direction) -> bool:
        groups = self.profiles.users + self.profiles.queues
        binding = next((b for b in groups if b.address.lower() == assignment.address.lower()), None)
        return binding is not None and not (binding.incoming if direction is Direction.INCOMING
                                            else binding.outgoing)

    def _add(self, assignment: MailboxAssignment, source: Source, reasons: Mapping[Direction, str],
             *, served: bool = True) -> None:
        key = assignment.address.lower()
        if key in self._seen:
            reasons = dict.fromkeys(Direction, "another mailbox with the same address is served already "
                                    "(in another deployment, or as both a user and a queue)")
            served = False
        self._seen.add(key)
        for direction in Direction:
            reason = reasons[direction]
            self.entries.append(RosterEntry(
                mailbox=assignment.address, direction=direction, deployment=assignment.deployment,
                role=assignment.role, source=source, served=served and not reason, reason=reason,
                profile=assignment.profile(direction), crm_mailbox_id=assignment.crm_mailbox_id))
        if served and not all(reasons.values()):
            self.assignments.append(_only_served(assignment, reasons))


def _only_served(assignment: MailboxAssignment, reasons: Mapping[Direction, str]) -> MailboxAssignment:
    """``assignment`` with the profile of every unserved direction taken away (no lane for it)."""
    if reasons[Direction.INCOMING]:
        assignment = replace(assignment, incoming_profile=None, incoming_credential=None)
    if reasons[Direction.OUTGOING]:
        assignment = replace(assignment, outgoing_profile=None, outgoing_credential=None)
    return assignment


def _match(info: MailboxInfo, bindings: Sequence[MailboxAssignment]) -> int | None:
    """The index of the binding naming this CRM mailbox: by ``crm_id`` first, then by address."""
    owner = info.owner.id.lower()
    for index, binding in enumerate(bindings):
        if binding.crm_id is not None and str(binding.crm_id).lower() == owner:
            return index
    address = info.address.lower()
    return next((i for i, b in enumerate(bindings) if b.crm_id is None and b.address.lower() == address),
                None)


def _crm_reason(info: MailboxInfo, direction: Direction, serve_only_enabled: bool) -> str:
    """Why the CRM keeps ``direction`` of the mailbox from the router ("" if it does not)."""
    if not info.approved:
        label = Approval(info.approval).name.replace("_", " ").lower()
        return (f"its e-mail address is not approved for the router (approval: {label}); approve it in "
                "the CRM (Approve Email); the service picks it up at the next Load Data")
    if direction is Direction.INCOMING and info.incoming_method is not IncomingDeliveryMethod.ROUTER:
        if info.incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX:
            return ("its incoming delivery method is Forward Mailbox: its mail is read from the forward "
                    "mailbox")
        return (f"its incoming delivery method in the CRM is {_label(info.incoming_method)}, not the "
                "E-mail Router")
    if direction is Direction.OUTGOING and info.outgoing_method is not OutgoingDeliveryMethod.ROUTER:
        return (f"its outgoing delivery method in the CRM is {_label(info.outgoing_method)}, not the "
                "E-mail Router")
    enabled = info.enabled_incoming if direction is Direction.INCOMING else info.enabled_outgoing
    if serve_only_enabled and not enabled:
        return (f"it is not enabled for {direction.value} mail in the CRM: run `email-router test-access "
                f"--mailbox {info.address}` (Test & Enable)")
    return ""


def _label(method: IncomingDeliveryMethod | OutgoingDeliveryMethod) -> str:
    return method.name.replace("_", " ").title()


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
