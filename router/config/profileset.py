"""The shape of a profiles file and of the validated whole built from every file of a directory.

Any profiles file may hold any of the top-level tables below; names are unique across files, and
``[settings]`` appears in at most one file. ``ProfileSet`` is what the loader returns and what a
published configuration carries; ``mailboxes()`` resolves each binding to the profiles, deployment
and credentials the service will use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.common import StrictModel
from router.config.deployment import Deployment
from router.config.incoming import Acknowledgement, SharedLogging
from router.config.profile import CredentialSource, Direction, Profile
from router.config.settings import SystemSettings


class ProfileFile(StrictModel):
    """One TOML file of the profiles directory; `email-router profiles schema` prints its JSON Schema."""

    profiles: dict[str, Profile] = Field(
        default_factory=dict, description="Connection profiles by name: `[profiles.NAME]`.")
    deployments: dict[str, Deployment] = Field(
        default_factory=dict, description="CRM deployments by name: `[deployments.NAME]`.")
    users: list[MailboxBinding] = Field(default_factory=list, description="User mailboxes: `[[users]]`.")
    queues: list[MailboxBinding] = Field(default_factory=list, description="Queue mailboxes: `[[queues]]`.")
    forward_mailboxes: list[ForwardMailbox] = Field(
        default_factory=list, description="Forward mailboxes: `[[forward_mailboxes]]`.")
    settings: SystemSettings | None = Field(
        default=None, description="System settings: `[settings]`, in at most one file.")


class MailboxRole(StrEnum):
    """What a served mailbox is in the CRM."""

    USER = "user"
    QUEUE = "queue"
    FORWARD = "forward"


@dataclass(frozen=True)
class MailboxAssignment:
    """One served mailbox with every reference resolved: what the service's lanes are built from.

    ``incoming_profile`` / ``outgoing_profile`` are None when that direction is off for the mailbox.
    A ``*_credential`` is the vault credential that opens the mailbox for that direction, or None for
    the service's own identity (``local_system``). ``acknowledge`` is the binding's override of its
    incoming profile's acknowledgement; ``shared_logging`` is set for a shared logging mailbox.
    """

    role: MailboxRole
    address: str
    deployment: str
    crm_id: UUID | None
    incoming_profile: str | None
    outgoing_profile: str | None
    incoming_credential: str | None
    outgoing_credential: str | None
    process_from: datetime | None
    delete_after_processing: bool
    crm_mailbox_id: str | None = None
    """The CRM ``mailbox`` record the CRM's Load Data returned for this address (None until matched)."""
    crm_mailbox_name: str | None = None
    """That record's name, as the CRM shows the user or queue (None until matched)."""
    acknowledge: Acknowledgement | None = None
    shared_logging: SharedLogging | None = None

    def profile(self, direction: Direction) -> str | None:
        """The profile serving ``direction`` (None: that direction is off)."""
        return self.incoming_profile if Direction(direction) is Direction.INCOMING else self.outgoing_profile

    def credential(self, direction: Direction) -> str | None:
        """The vault credential that opens the mailbox in ``direction`` (None: the service's own identity)."""
        return (self.incoming_credential if Direction(direction) is Direction.INCOMING
                else self.outgoing_credential)


class ProfileSet(StrictModel):
    """Every profile, deployment, mailbox and setting of one profiles directory, validated together."""

    profiles: dict[str, Profile] = Field(default_factory=dict, description="Connection profiles by name.")
    deployments: dict[str, Deployment] = Field(default_factory=dict, description="Deployments by name.")
    users: list[MailboxBinding] = Field(default_factory=list, description="User mailboxes.")
    queues: list[MailboxBinding] = Field(default_factory=list, description="Queue mailboxes.")
    forward_mailboxes: list[ForwardMailbox] = Field(default_factory=list, description="Forward mailboxes.")
    settings: SystemSettings = Field(default_factory=SystemSettings, description="System settings.")

    def deployment_name(self, mailbox: MailboxBinding | ForwardMailbox) -> str | None:
        """The mailbox's deployment: the one it names, else the only one there is."""
        if mailbox.deployment is not None:
            return mailbox.deployment
        return next(iter(self.deployments)) if len(self.deployments) == 1 else None

    def profile_name(self, mailbox: MailboxBinding | ForwardMailbox, direction: Direction) -> str | None:
        """The profile serving ``mailbox`` in ``direction``: its override, else its deployment's default."""
        if isinstance(mailbox, MailboxBinding) and not _enabled(mailbox, direction):
            return None
        if isinstance(mailbox, ForwardMailbox) and direction is Direction.OUTGOING:
            return None
        override = (mailbox.incoming_profile if direction is Direction.INCOMING
                    else getattr(mailbox, "outgoing_profile", None))
        if override is not None:
            return override
        deployment = self.deployments.get(self.deployment_name(mailbox) or "")
        if deployment is None:
            return None
        return (deployment.default_incoming_profile if direction is Direction.INCOMING
                else deployment.default_outgoing_profile)

    def credential_for(self, mailbox: MailboxBinding | ForwardMailbox,
                       profile_name: str | None) -> str | None:
        """The vault credential that opens ``mailbox`` through ``profile_name`` (None: own identity)."""
        profile = self.profiles.get(profile_name or "")
        if profile is None or profile.credentials is CredentialSource.LOCAL_SYSTEM:
            return None
        if profile.credentials is CredentialSource.USER_SPECIFIED:
            return mailbox.credential
        return profile.credential

    def credential_names(self) -> set[str]:
        """Every vault credential this configuration references."""
        names = {p.credential for p in self.profiles.values() if p.credential}
        names |= {d.dynamics.credential for d in self.deployments.values() if d.dynamics}
        if self.settings.state_store_credential:
            names.add(self.settings.state_store_credential)
        for mailbox in self.mailboxes():
            names |= {c for c in (mailbox.incoming_credential, mailbox.outgoing_credential) if c}
        return names

    def mailboxes(self) -> list[MailboxAssignment]:
        """Every served mailbox, resolved: users, then queues, then forward mailboxes."""
        roles = ((MailboxRole.USER, self.users), (MailboxRole.QUEUE, self.queues),
                 (MailboxRole.FORWARD, self.forward_mailboxes))
        return [self._assign(role, m) for role, group in roles for m in group]

    def default_assignment(self, role: MailboxRole, address: str, deployment: str) -> MailboxAssignment:
        """A mailbox the CRM routes through the router but no profiles file binds: deployment defaults.

        It is resolved as a binding naming only its address and deployment would be, so it gets the
        deployment's default profiles (both directions on) and no credential of its own.
        """
        return self._assign(role, MailboxBinding(address=address, deployment=deployment))

    def _assign(self, role: MailboxRole, mailbox: MailboxBinding | ForwardMailbox) -> MailboxAssignment:
        incoming = self.profile_name(mailbox, Direction.INCOMING)
        outgoing = self.profile_name(mailbox, Direction.OUTGOING)
        return MailboxAssignment(
            role=role, address=mailbox.address, deployment=self.deployment_name(mailbox) or "",
            crm_id=getattr(mailbox, "crm_id", None),
            incoming_profile=incoming, outgoing_profile=outgoing,
            incoming_credential=self.credential_for(mailbox, incoming),
            outgoing_credential=self.credential_for(mailbox, outgoing),
            process_from=mailbox.process_from,
            delete_after_processing=getattr(mailbox, "delete_after_processing", False),
            acknowledge=mailbox.acknowledge,
            shared_logging=getattr(mailbox, "shared_logging", None),
        )


def _enabled(binding: MailboxBinding, direction: Direction) -> bool:
    return binding.incoming if direction is Direction.INCOMING else binding.outgoing
