"""Turn a ``LegacyInstallation`` into our profiles files, credentials to set, and findings.

``plan_import(installation, clock)`` decides everything and writes nothing, so the result can be
shown, tested and validated before any file exists. The steps, in order: system settings; providers
grouped by CRM organization; one profile per distinct provider configuration (equivalent providers
share a profile, as the CRM's own migration wizard merges them); one deployment per organization; one
mailbox entry per address with its process-from date.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.clock import Clock
from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.profile import Profile
from router.config.profileset import ProfileFile
from router.legacy.binding_map import map_bindings
from router.legacy.deployment_map import DeploymentDraft, build_deployment, group_providers
from router.legacy.mapcontext import CredentialNeed, MapContext
from router.legacy.model import Finding, LegacyInstallation
from router.legacy.profile_map import map_profile
from router.legacy.settings_map import map_settings
from router.legacy.thresholds import ThresholdBook
from router.vault.credentials import CredentialKind

SETTINGS_FILE = "settings.toml"
PROFILES_FILE = "profiles.toml"
DEPLOYMENTS_FILE = "deployments.toml"
MAILBOXES_FILE = "mailboxes.toml"
OUTPUT_FILES = (SETTINGS_FILE, PROFILES_FILE, DEPLOYMENTS_FILE, MAILBOXES_FILE)


@dataclass(frozen=True)
class ImportStats:
    """Counts for the summary table."""

    providers: int
    profiles: int
    deployments: int
    users: int
    queues: int
    forward_mailboxes: int
    carried_thresholds: int

    @property
    def mailboxes(self) -> int:
        """Return how many mailbox entries were written."""
        return self.users + self.queues + self.forward_mailboxes


@dataclass(frozen=True)
class ImportResult:
    """What the import will write: file name -> contents, the credentials to set, and the findings."""

    files: dict[str, ProfileFile]
    credentials: tuple[CredentialNeed, ...]
    findings: tuple[Finding, ...]
    stats: ImportStats
    sources: tuple[str, ...]
    imported_at: str


def name_profiles(ctx: MapContext, drafts: list[DeploymentDraft]) -> dict[str, Profile]:
    """Map every provider to a profile, merging equivalent ones, and record each provider's profile."""
    names: dict[str, str] = {}
    profiles: dict[str, Profile] = {}
    used_by: dict[str, list[str]] = {}
    for draft in drafts:
        # Enabled providers first, so a shared profile is named after one that is in use.
        for provider in sorted(draft.providers, key=lambda p: not p.enabled):
            mapped = map_profile(ctx, provider)
            if mapped is None:
                continue
            account = mapped.account
            key = mapped.profile.model_dump_json() + "|" + (account.key.casefold() if account else "")
            name = names.get(key)
            if name is None:
                wish = provider.name or f"{mapped.profile.direction.value}-{mapped.profile.server_type.value}"
                name = names[key] = ctx.profile_names.claim(wish, mapped.profile.direction.value)
                profile = mapped.profile
                if account is not None:
                    credential = ctx.need_credential(account.key, account.wish, CredentialKind.PASSWORD,
                                                     account.purpose, username=account.username,
                                                     user=f"profile {name}")
                    profile = profile.model_copy(update={"credential": credential})
                profiles[name], used_by[name] = profile, []
            used_by[name].append(provider.label())
            draft.profile_of[id(provider)] = name
    return {name: profile.model_copy(update={
        "description": "Imported from the legacy E-mail Router: " + ", ".join(used_by[name])})
        for name, profile in profiles.items()}


def _files(ctx: MapContext, installation: LegacyInstallation, drafts: list[DeploymentDraft],
           profiles: dict[str, Profile], book: ThresholdBook) -> tuple[dict[str, ProfileFile], ImportStats]:
    settings = map_settings(ctx, installation.configs)
    deployments = {draft.name: build_deployment(ctx, draft) for draft in drafts}
    bindings = map_bindings(ctx, drafts, profiles, book)
    users: list[MailboxBinding] = bindings.users
    queues: list[MailboxBinding] = bindings.queues
    forward: list[ForwardMailbox] = bindings.forward_mailboxes
    files: dict[str, ProfileFile] = {}
    if settings is not None:
        files[SETTINGS_FILE] = ProfileFile(settings=settings)
    if profiles:
        files[PROFILES_FILE] = ProfileFile(profiles=profiles)
    files[DEPLOYMENTS_FILE] = ProfileFile(deployments=deployments)
    if users or queues or forward:
        files[MAILBOXES_FILE] = ProfileFile(users=users, queues=queues, forward_mailboxes=forward)
    stats = ImportStats(providers=len(installation.providers), profiles=len(profiles),
                        deployments=len(deployments), users=len(users), queues=len(queues),
                        forward_mailboxes=len(forward), carried_thresholds=bindings.carried)
    return files, stats


def plan_import(installation: LegacyInstallation, clock: Clock) -> ImportResult:
    """Decide the whole import; nothing is written."""
    ctx = MapContext(now=clock.now().replace(microsecond=0))
    drafts = group_providers(ctx, installation.providers)
    profiles = name_profiles(ctx, drafts)
    book = ThresholdBook(installation, ctx.now)
    files, stats = _files(ctx, installation, drafts, profiles, book)
    findings = (*installation.findings, *ctx.findings, *book.findings, *book.unused(), *book.summary())
    files_read = [c.file for c in installation.configs] + [s.file for s in installation.states]
    sources = tuple(dict.fromkeys(files_read))
    return ImportResult(files=files, credentials=tuple(ctx.credentials.values()), findings=findings,
                        stats=stats, sources=sources, imported_at=ctx.now.isoformat(timespec="seconds"))
