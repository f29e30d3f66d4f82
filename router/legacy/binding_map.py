"""Map the legacy providers' mailboxes onto ``[[users]]``, ``[[queues]]`` and ``[[forward_mailboxes]]``.

One address becomes one entry, however many providers served it: its incoming and outgoing providers
set ``incoming`` / ``outgoing`` and, where they differ from the deployment's default, the profile
overrides. Each entry carries ``process_from`` from the SystemState threshold date (see thresholds.py),
so switching routers imports nothing twice. CRM records a provider served without naming their
mailbox address cannot be listed; the CRM's Load Data finds them and the deployment's default profiles
serve them, which the report says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.profile import CredentialSource, Profile
from router.legacy import model as legacy
from router.legacy.deployment_map import DeploymentDraft
from router.legacy.mapcontext import MapContext
from router.legacy.model import FindingKind, LegacyProvider, Severity
from router.legacy.thresholds import ThresholdBook
from router.vault.credentials import CredentialKind


@dataclass
class _Mailbox:
    """Everything gathered about one address before it becomes an entry."""

    address: str
    deployment: DeploymentDraft
    first: LegacyProvider
    forward: bool = False
    queue: bool = False
    crm_ids: set[str] = field(default_factory=set)
    profiles: dict[legacy.Direction, str] = field(default_factory=dict)
    disabled: set[legacy.Direction] = field(default_factory=set)
    delete_after_processing: bool = False


@dataclass
class Bindings:
    """The entries built, in the order the providers appeared."""

    users: list[MailboxBinding] = field(default_factory=list)
    queues: list[MailboxBinding] = field(default_factory=list)
    forward_mailboxes: list[ForwardMailbox] = field(default_factory=list)
    carried: int = 0
    """How many entries continue from a legacy threshold date (the rest start at the import time)."""


class _BindingMapper:
    def __init__(self, ctx: MapContext, profiles: dict[str, Profile], book: ThresholdBook,
                 several_deployments: bool) -> None:
        self.ctx, self.profiles, self.book = ctx, profiles, book
        self.several = several_deployments
        self.mailboxes: dict[str, _Mailbox] = {}

    def note(self, provider: LegacyProvider, key: str, kind: FindingKind, message: str,
             severity: Severity = Severity.WARNING) -> None:
        path, line = provider.where(key) if key else (provider.path, provider.line)
        self.ctx.report(provider.file, path, kind, message, severity=severity, line=line)

    def gather(self, draft: DeploymentDraft, provider: LegacyProvider) -> None:
        profile = draft.profile_of.get(id(provider))
        if profile is None or provider.direction is None:
            return
        if provider.email_address is None:
            self._no_address(draft, provider, profile)
            return
        box = self.mailboxes.get(provider.email_address)
        if box is None:
            box = self.mailboxes[provider.email_address] = _Mailbox(provider.email_address, draft, provider)
        elif box.deployment is not draft:
            self.note(provider, "EmailAddress", FindingKind.DUPLICATE,
                      f"{box.address} is already served for deployment {box.deployment.name!r}: an address "
                      "belongs to one deployment, so this provider's binding is not imported")
            return
        self._merge(box, provider, profile)

    def _no_address(self, draft: DeploymentDraft, provider: LegacyProvider, profile: str) -> None:
        records = len(provider.user_ids) + len(provider.queue_ids)
        default = draft.default_profile(provider.direction) if provider.direction else None
        if profile == default:
            self.note(provider, "", FindingKind.UNSUPPORTED, severity=Severity.INFO, message=(
                f"provider names {records} CRM record(s) but no mailbox address: the CRM's Load Data "
                f"finds their mailboxes and deployment {draft.name!r} serves them with profile {profile!r}"))
        else:
            self.note(provider, "", FindingKind.UNSUPPORTED, message=(
                f"provider names {records} CRM record(s) but no mailbox address, and its profile "
                f"{profile!r} is not the deployment's default: add a [[users]] or [[queues]] entry with "
                f"each address and {provider.direction}_profile = {profile!r}"))

    def _merge(self, box: _Mailbox, provider: LegacyProvider, profile: str) -> None:
        direction = provider.direction
        if direction is None:
            return
        if direction in box.profiles and box.profiles[direction] != profile:
            self.note(provider, "", FindingKind.DUPLICATE, message=(
                f"{box.address} already has an {direction} provider (profile "
                f"{box.profiles[direction]!r}); this one is not imported"))
            return
        box.profiles[direction] = profile
        if not provider.enabled:
            box.disabled.add(direction)
        box.forward |= provider.is_forward_mailbox
        box.queue |= bool(provider.queue_ids) and not provider.user_ids
        box.crm_ids |= set(provider.user_ids) | set(provider.queue_ids)
        box.delete_after_processing |= bool(provider.delete_after_processing)

    def credential(self, box: _Mailbox) -> str | None:
        if not any(self.profiles[name].credentials is CredentialSource.USER_SPECIFIED
                   for direction, name in box.profiles.items() if direction not in box.disabled):
            return None
        return self.ctx.need_credential(f"mailbox:{box.address}", box.address, CredentialKind.PASSWORD,
                                        "the mailbox's own account (legacy User Specified)",
                                        username=None, user=f"mailbox {box.address}")

    def common(self, box: _Mailbox, out: Bindings) -> dict[str, object]:
        start = self.book.process_from(box.address)
        out.carried += start.from_legacy
        fields: dict[str, object] = {"address": box.address, "process_from": start.instant}
        if self.several:
            fields["deployment"] = box.deployment.name
        credential = self.credential(box)
        if credential:
            fields["credential"] = credential
        return fields

    def override(self, box: _Mailbox, direction: legacy.Direction) -> str | None:
        profile = box.profiles.get(direction)
        return None if profile == box.deployment.default_profile(direction) else profile

    def build(self, box: _Mailbox, out: Bindings) -> None:
        enabled = [d for d in box.profiles if d not in box.disabled]
        if not enabled:
            self.note(box.first, "Enabled", FindingKind.UNSUPPORTED,
                      f"every provider of {box.address} was disabled: not imported", Severity.INFO)
            return
        if box.forward:
            if legacy.Direction.INCOMING in enabled:
                self._forward(box, out)
            else:
                self.note(box.first, "IsForwardMailbox", FindingKind.UNSUPPORTED,
                          f"forward mailbox {box.address} has no enabled incoming provider: not imported")
            return
        fields = self.common(box, out)
        for direction in legacy.Direction:
            on = direction in enabled
            if not on:
                fields[direction.value] = False
            elif (name := self.override(box, direction)) is not None:
                fields[f"{direction.value}_profile"] = name
        if len(box.crm_ids) == 1:
            fields["crm_id"] = UUID(next(iter(box.crm_ids)))
        elif box.crm_ids:
            self.note(box.first, "", FindingKind.UNSUPPORTED,
                      f"{box.address} served {len(box.crm_ids)} CRM records: its owner is looked up by "
                      "address; the others are found by the CRM's Load Data", Severity.INFO)
        entry = MailboxBinding.model_validate(fields)
        (out.queues if box.queue else out.users).append(entry)

    def _forward(self, box: _Mailbox, out: Bindings) -> None:
        if legacy.Direction.OUTGOING in box.profiles:
            self.note(box.first, "IsForwardMailbox", FindingKind.UNSUPPORTED,
                      f"{box.address} is a forward mailbox, which only receives: its outgoing provider is "
                      "not imported")
        fields = self.common(box, out)
        fields["delete_after_processing"] = box.delete_after_processing
        if (name := box.profiles.get(legacy.Direction.INCOMING)) is not None:
            fields["incoming_profile"] = name
        out.forward_mailboxes.append(ForwardMailbox.model_validate(fields))


def map_bindings(ctx: MapContext, drafts: list[DeploymentDraft], profiles: dict[str, Profile],
                 book: ThresholdBook) -> Bindings:
    """Return the mailbox entries of every deployment's providers."""
    mapper = _BindingMapper(ctx, profiles, book, several_deployments=len(drafts) > 1)
    for draft in drafts:
        for provider in draft.providers:
            mapper.gather(draft, provider)
    out = Bindings()
    for box in mapper.mailboxes.values():
        mapper.build(box, out)
    return out
