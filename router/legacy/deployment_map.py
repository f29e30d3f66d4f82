"""Map the legacy providers' CRM server URLs onto deployments.

Each distinct ``<CrmServerUrl>`` is one CRM organization, hence one ``[deployments.NAME]`` named after
the organization. The legacy URL is the organization URL (``http://server:5555/Org``); the new router
talks to the Web API under it (``…/Org/api/data/v9.0/``, reference dynamics-webapi.md). When no
provider names a CRM server at all, the import still needs a deployment to validate: it uses the
embedded CRM and says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from router.config.common import AuthMethod
from router.config.deployment import Deployment, DynamicsCrm, EmbeddedCrm
from router.legacy import model as legacy
from router.legacy.mapcontext import MapContext
from router.legacy.model import FindingKind, LegacyProvider, Severity
from router.vault.credentials import CredentialKind

WEB_API_SUFFIX = "api/data/v9.0/"
EMBEDDED_NAME = "legacy"


@dataclass
class DeploymentDraft:
    """A deployment being assembled: its CRM and the providers (and their profile names) it serves."""

    name: str
    url: str | None
    providers: list[LegacyProvider] = field(default_factory=list)
    profile_of: dict[int, str] = field(default_factory=dict)
    """id(provider) -> name of the profile it maps to."""
    defaults: dict[legacy.Direction, str | None] = field(default_factory=dict, repr=False)
    """Cache of ``default_profile``: asked once per mailbox, it must not rescan every provider."""

    def default_profile(self, direction: legacy.Direction) -> str | None:
        """Return the profile most of this deployment's own-mailbox providers use in ``direction``.

        Ask only once ``profile_of`` is complete (after the profiles are named): the answer is cached.
        """
        if direction not in self.defaults:
            names = Counter(self.profile_of[id(p)] for p in self.providers
                            if p.direction is direction and id(p) in self.profile_of
                            and not p.is_forward_mailbox and p.enabled)
            self.defaults[direction] = names.most_common(1)[0][0] if names else None
        return self.defaults[direction]


def organization_key(url: str) -> str:
    """Return the comparison key of a CRM URL: scheme, host and port lower case, path without slash."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/").lower(), "", ""))


def organization_name(url: str) -> str:
    """Return the organization's name: the URL's first path segment, else the host's first label."""
    parts = urlsplit(url)
    segment = parts.path.strip("/").split("/")[0]
    return segment or (parts.hostname or "crm").split(".")[0]


def web_api_url(url: str) -> str:
    """Return the Web API base under a legacy organization URL."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/" + WEB_API_SUFFIX
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def group_providers(ctx: MapContext, providers: tuple[LegacyProvider, ...]) -> list[DeploymentDraft]:
    """Group providers by CRM organization; providers naming none join the only (or first) one."""
    drafts: dict[str, DeploymentDraft] = {}
    orphans: list[LegacyProvider] = []
    for provider in providers:
        if provider.crm_server_url is None:
            orphans.append(provider)
            continue
        key = organization_key(provider.crm_server_url)
        if key not in drafts:
            name = ctx.deployment_names.claim(organization_name(provider.crm_server_url), "crm")
            drafts[key] = DeploymentDraft(name, provider.crm_server_url)
        drafts[key].providers.append(provider)
    groups = list(drafts.values())
    if not groups:
        groups.append(DeploymentDraft(ctx.deployment_names.claim(EMBEDDED_NAME, "crm"), None))
    for provider in orphans:
        _adopt(ctx, provider, groups)
    return groups


def _adopt(ctx: MapContext, provider: LegacyProvider, groups: list[DeploymentDraft]) -> None:
    """Attach a provider without a CRM URL to the first deployment, reporting the choice."""
    target = groups[0]
    target.providers.append(provider)
    severity = Severity.INFO if len(groups) == 1 else Severity.WARNING
    ctx.report(provider.file, provider.path, FindingKind.BAD_VALUE, severity=severity,
               line=provider.line, message=f"provider {provider.label()!r} names no CRM server: its "
               f"mailbox is bound to deployment {target.name!r}")


def _crm_auth(ctx: MapContext, draft: DeploymentDraft, first: LegacyProvider) -> AuthMethod:
    """Return the Web API authentication for the deployment, reporting legacy modes we cannot reuse."""
    mode = first.crm_auth_mode
    where, line = first.where("CrmAuthMode")
    if mode is legacy.CrmAuthMode.LOCAL_SYSTEM:
        ctx.report(first.file, where, FindingKind.UNSUPPORTED, line=line,
                   message=f"the legacy router reached the CRM as its Windows machine account; deployment "
                   f"{draft.name!r} uses ntlm with a service account credential instead")
    elif mode in (legacy.CrmAuthMode.CLAIMS, legacy.CrmAuthMode.PASSPORT):
        ctx.report(first.file, where, FindingKind.UNSUPPORTED, line=line,
                   message=f"{mode} sign-in has no direct equivalent: deployment {draft.name!r} is written "
                   'with ntlm; for an IFD / AD FS or online organization set auth = "oauth" with its '
                   "tenant_id and client_id")
    return AuthMethod.NTLM


def build_deployment(ctx: MapContext, draft: DeploymentDraft) -> Deployment:
    """Return the deployment for ``draft``, registering the CRM credential it names."""
    defaults = {
        "default_incoming_profile": draft.default_profile(legacy.Direction.INCOMING),
        "default_outgoing_profile": draft.default_profile(legacy.Direction.OUTGOING)}
    present = {k: v for k, v in defaults.items() if v is not None}
    if draft.url is None:
        ctx.report("", f"deployments.{draft.name}", FindingKind.UNSUPPORTED, severity=Severity.WARNING,
                   message="the legacy files name no CRM server: this deployment uses the embedded CRM; "
                   f"set [deployments.{draft.name}.dynamics] to reach your Dynamics organization")
        return Deployment(description="Imported from the legacy E-mail Router (no CRM server named)",
                          embedded=EmbeddedCrm(), **present)
    first = next(p for p in draft.providers if p.crm_server_url)
    account = first.crm_user or f"crm-{draft.name}"
    credential = ctx.need_credential(first.crm_user or f"crm:{draft.url}", account, CredentialKind.PASSWORD,
                                     "CRM service account", username=first.crm_user,
                                     user=f"deployment {draft.name}")
    url = web_api_url(draft.url)
    where, line = first.where("CrmServerUrl")
    ctx.report(first.file, where, FindingKind.UNSUPPORTED, severity=Severity.INFO, line=line, value=draft.url,
               message=f"deployment {draft.name!r} reaches the CRM Web API at {url}; use v8.2 for CRM 2016 "
               "(CRM 2015 and older have no Web API)")
    if urlsplit(url).scheme == "http":
        parts = urlsplit(url)
        url = urlunsplit(("https", parts.netloc, parts.path, parts.query, parts.fragment))
        ctx.report(first.file, where, FindingKind.UNSUPPORTED, severity=Severity.WARNING, line=line,
                   value=draft.url, message=f"deployment {draft.name!r}: credentials must not cross the "
                   f"network in clear, so the Web API URL is changed to {url}; check the CRM serves https "
                   "there (for an isolated lab only, keep http with insecure_allow_clear_text_over_http)")
    dynamics = DynamicsCrm.model_validate({"url": url, "auth": _crm_auth(ctx, draft, first),
                                           "credential": credential})
    return Deployment(description=f"Imported from the legacy E-mail Router ({draft.url})",
                      dynamics=dynamics, **present)
