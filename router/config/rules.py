"""Validation rules that span fields and files: what the legacy tool enforced, and more.

Pydantic has already checked types, ranges and unknown keys; these rules check combinations and
references, and report every problem with the file and key path where the admin must fix it:

- a profile has exactly one location: ``ews_url`` or ``autodiscover``;
- ``oauth`` settings are present exactly when ``auth = "oauth"``;
- Exchange Online needs basic (Clear Text) or OAuth, over https;
- any credential over plain http (basic, NTLM, an OAuth token endpoint or authority) is refused unless
  ``insecure_allow_clear_text_over_http`` is set (``risks`` then warns about it);
- ``local_system`` is incoming-only and uses Windows (ntlm) authentication;
- ``user_specified`` is not allowed for Exchange Online; ``other_specified`` names a credential;
- an administrator needs an access type; ``send_as`` is outgoing-only; app-only OAuth needs impersonation;
- every profile, deployment and credential reference resolves, with the right direction or kind;
- ``transport = "graph"``: Exchange Online, app-only OAuth, no EWS location (router/config/transport.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import HttpUrl

from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.common import AuthMethod, OAuthSettings, Tls
from router.config.deployment import Deployment, DynamicsCrm
from router.config.profile import AccessType, CredentialSource, Direction, Profile, UserType
from router.config.profileset import ProfileSet
from router.config.transport import Transport, graph_problems
from router.errors import Problem
from router.vault.credentials import CredentialKind
from router.vault.names import is_valid_credential_name

Locator = Callable[[str, str | int], tuple[str, str]]
"""Maps (``profiles``/``deployments``/``users``/..., name or index) to (file, key path prefix)."""

KIND_FOR_AUTH = {AuthMethod.BASIC: CredentialKind.PASSWORD, AuthMethod.NTLM: CredentialKind.PASSWORD,
                 AuthMethod.OAUTH: CredentialKind.OAUTH_CLIENT_SECRET}
GRAPH_KINDS = (CredentialKind.OAUTH_CLIENT_SECRET, CredentialKind.OAUTH_CERTIFICATE)


def check_profile_set(profile_set: ProfileSet, locate: Locator,
                      credentials: Mapping[str, CredentialKind] | None = None, *,
                      unchecked: frozenset[str] = frozenset()) -> list[Problem]:
    """Return every rule violation in ``profile_set``.

    Credential references are checked against ``credentials`` (name -> kind) when it is given.
    References to a name in ``unchecked`` (an entry that failed validation) are not reported.
    """
    checker = _Checker(profile_set, locate, credentials, unchecked)
    checker.run()
    return checker.problems


class _Checker:
    """Walks a profile set once, collecting problems."""

    def __init__(self, ps: ProfileSet, locate: Locator,
                 credentials: Mapping[str, CredentialKind] | None, unchecked: frozenset[str]) -> None:
        self.ps, self.locate, self.credentials, self.unchecked = ps, locate, credentials, unchecked
        self.problems: list[Problem] = []
        self._where = ("", "")

    def add(self, key: str, message: str) -> None:
        file, prefix = self._where
        self.problems.append(Problem(file, ".".join(k for k in (prefix, key) if k), message))

    def at(self, section: str, name: str | int) -> None:
        self._where = self.locate(section, name)

    def run(self) -> None:
        for name, profile in self.ps.profiles.items():
            self.at("profiles", name)
            self.profile(profile)
        for name, deployment in self.ps.deployments.items():
            self.at("deployments", name)
            self.deployment(deployment)
        self.mailboxes()
        if self.ps.settings.state_store_credential:
            self.at("settings", "settings")
            self.credential_ref("state_store_credential", self.ps.settings.state_store_credential,
                                CredentialKind.PASSWORD)

    # Profiles -------------------------------------------------------------------------------------

    def profile(self, p: Profile) -> None:
        for key, message in graph_problems(p):
            self.add(key, message)
        if p.transport is not Transport.GRAPH:
            self.location(p)
        self.oauth_table(p.auth, p.oauth)
        self.online(p)
        self.clear_text(p.ews_url, p.auth, p.insecure_allow_clear_text_over_http, "ews_url")
        self.clear_text(p.autodiscover_url, p.auth, p.insecure_allow_clear_text_over_http, "autodiscover_url")
        self.oauth_urls(p.oauth, p.insecure_allow_clear_text_over_http)
        self.access_credentials(p)
        self.user_and_access_type(p)
        self.tls(p.tls)

    def location(self, p: Profile) -> None:
        if p.ews_url is None and not p.autodiscover:
            self.add("ews_url", 'no location: set ews_url = "https://.../EWS/Exchange.asmx" or '
                     "autodiscover = true")
        elif p.ews_url is not None and p.autodiscover:
            self.add("autodiscover", "set either ews_url or autodiscover = true, not both")
        if p.autodiscover_url is not None and not p.autodiscover:
            self.add("autodiscover_url", "autodiscover_url is only used with autodiscover = true: set "
                     "autodiscover = true (and remove ews_url), or remove autodiscover_url")

    def oauth_table(self, auth: AuthMethod, oauth: OAuthSettings | None) -> None:
        if auth is AuthMethod.OAUTH and oauth is None:
            self.add("oauth", 'auth = "oauth" needs an oauth table with tenant_id and client_id')
        elif auth is not AuthMethod.OAUTH and oauth is not None:
            self.add("oauth", f'oauth settings are only used with auth = "oauth" (auth is "{auth}"): '
                     "remove them")

    def online(self, p: Profile) -> None:
        if not p.is_online:
            return
        if p.auth is AuthMethod.NTLM:
            self.add("auth", "Exchange Online accepts basic (Clear Text) or oauth, not ntlm: "
                     'set auth = "oauth"')
        if p.ews_url is not None and p.ews_url.scheme != "https":
            self.add("ews_url", "Exchange Online is reached over https only: use an https:// URL")
        if p.credentials is CredentialSource.USER_SPECIFIED:
            self.add("credentials", "user_specified is not allowed for Exchange Online: "
                     'use "other_specified"')

    def clear_text(self, url: HttpUrl | None, auth: AuthMethod, opted_in: bool, key: str) -> None:
        if url is None or url.scheme == "https" or opted_in:
            return
        self.add(key, f"auth = \"{auth}\" over plain http would expose credentials on the network: use "
                 "https, or for an isolated lab only set insecure_allow_clear_text_over_http = true")

    def oauth_urls(self, oauth: OAuthSettings | None, opted_in: bool, prefix: str = "") -> None:
        # The client secret is posted to the token endpoint: plain http would hand it to the network.
        if oauth is None or opted_in:
            return
        for name, url in (("authority", oauth.authority), ("token_endpoint", oauth.token_endpoint)):
            if url is not None and url.scheme != "https" and (name == "token_endpoint"
                                                              or oauth.token_endpoint is None):
                self.add(f"{prefix}oauth.{name}", f"{url} is plain http: the OAuth client secret would "
                         "cross the network in clear text. Use https, or for an isolated lab only set "
                         "insecure_allow_clear_text_over_http = true")

    def access_credentials(self, p: Profile) -> None:
        source = p.credentials
        if source is CredentialSource.LOCAL_SYSTEM:
            if p.direction is Direction.OUTGOING:
                self.add("credentials", "local_system is for incoming profiles only: use other_specified "
                         "(a service account) or user_specified")
            if p.auth is not AuthMethod.NTLM:
                self.add("auth", 'local_system uses the service\'s own Windows identity: set auth = "ntlm"')
        if p.auth is AuthMethod.OAUTH and source is not CredentialSource.OTHER_SPECIFIED:
            self.add("credentials", "oauth uses the app registration's secret: "
                     'set credentials = "other_specified"')
        if source is CredentialSource.OTHER_SPECIFIED:
            if p.credential is None:
                self.add("credential", "other_specified needs the name of the service account's credential")
            else:
                graph = p.transport is Transport.GRAPH and p.auth is AuthMethod.OAUTH
                kinds = GRAPH_KINDS if graph else KIND_FOR_AUTH[p.auth]
                self.credential_ref("credential", p.credential, kinds)
        elif p.credential is not None:
            self.add("credential", f"a profile credential is only used with other_specified (this profile "
                     f"uses {source.value}): remove it")

    def user_and_access_type(self, p: Profile) -> None:
        if p.user_type is UserType.ADMINISTRATOR and p.access_type is None:
            self.add("access_type", 'an administrator needs an access type: "delegate", "send_as" or '
                     '"impersonation"')
        if p.user_type is UserType.USER and p.access_type is not None:
            self.add("access_type", 'only administrators have an access type: set user_type = '
                     '"administrator" or remove access_type')
        if p.direction is Direction.INCOMING and p.access_type is AccessType.SEND_AS:
            self.add("access_type", 'send_as is for outgoing profiles: use "delegate" or "impersonation"')
        graph_sender = p.transport == "graph" and p.service_mailbox is not None
        if p.auth is AuthMethod.OAUTH and p.access_type is not AccessType.IMPERSONATION and not graph_sender:
            self.add("access_type", 'app-only OAuth reaches mailboxes through impersonation only: set '
                     'user_type = "administrator" and access_type = "impersonation"')

    def tls(self, tls: Tls) -> None:
        if tls.ca_bundle is None:
            return
        if not tls.verify:
            self.add("tls.ca_bundle", "ca_bundle is unused when verify = false: remove one of them")
        elif not tls.ca_bundle.is_file():
            self.add("tls.ca_bundle", f"no such file: {tls.ca_bundle}")

    # Deployments ----------------------------------------------------------------------------------

    def deployment(self, d: Deployment) -> None:
        if d.embedded is not None and d.dynamics is not None:
            self.add("dynamics", "set either embedded or dynamics, not both")
        if d.dynamics is not None:
            self.dynamics(d.dynamics)
        for direction, name in ((Direction.INCOMING, d.default_incoming_profile),
                                (Direction.OUTGOING, d.default_outgoing_profile)):
            if name is not None:
                self.profile_ref(f"default_{direction.value}_profile", name, direction)

    def dynamics(self, crm: DynamicsCrm) -> None:
        self.oauth_table(crm.auth, crm.oauth)
        self.clear_text(crm.url, crm.auth, crm.insecure_allow_clear_text_over_http, "dynamics.url")
        self.oauth_urls(crm.oauth, crm.insecure_allow_clear_text_over_http, "dynamics.")
        self.credential_ref("dynamics.credential", crm.credential, KIND_FOR_AUTH[crm.auth])
        self.tls(crm.tls)

    # Mailboxes ------------------------------------------------------------------------------------

    def mailboxes(self) -> None:
        seen: dict[str, tuple[str, str]] = {}
        groups: tuple[tuple[str, list[MailboxBinding | ForwardMailbox]], ...] = (
            ("users", [*self.ps.users]), ("queues", [*self.ps.queues]),
            ("forward_mailboxes", [*self.ps.forward_mailboxes]))
        for section, group in groups:
            for index, mailbox in enumerate(group):
                self.at(section, index)
                self.mailbox(mailbox)
                self.unique_address(mailbox.address, seen)

    def mailbox(self, m: MailboxBinding | ForwardMailbox) -> None:
        if not self.mailbox_deployment(m):
            return
        if isinstance(m, MailboxBinding) and not (m.incoming or m.outgoing):
            self.add("", "neither incoming nor outgoing is enabled: enable one or remove the entry")
        used: list[Profile] = []
        for direction in (Direction.INCOMING, Direction.OUTGOING):
            used += self.mailbox_profile(m, direction)
        self.mailbox_credential(m, used)

    def mailbox_deployment(self, m: MailboxBinding | ForwardMailbox) -> bool:
        if m.deployment in self.unchecked:
            return False
        if m.deployment is not None and m.deployment not in self.ps.deployments:
            self.add("deployment", f"no deployment named {m.deployment!r}{_known(self.ps.deployments)}")
            return False
        if self.ps.deployment_name(m) is None and len(self.ps.deployments) > 1:
            self.add("deployment", f"several deployments exist{_known(self.ps.deployments)}: name one")
            return False
        return bool(self.ps.deployments)

    def mailbox_profile(self, m: MailboxBinding | ForwardMailbox, direction: Direction) -> list[Profile]:
        enabled = (m.incoming if direction is Direction.INCOMING else m.outgoing) \
            if isinstance(m, MailboxBinding) else direction is Direction.INCOMING
        if not enabled:
            return []
        key = f"{direction.value}_profile"
        name = self.ps.profile_name(m, direction)
        if name is None:
            off = f", or {direction.value} = false" if isinstance(m, MailboxBinding) else ""
            self.add(key, f"no {direction.value} profile: set {key}, or default_{key} on deployment "
                     f"{self.ps.deployment_name(m)!r}{off}")
            return []
        profile = self.profile_ref(key, name, direction)
        return [profile] if profile else []

    def mailbox_credential(self, m: MailboxBinding | ForwardMailbox, used: list[Profile]) -> None:
        needs = any(p.credentials is CredentialSource.USER_SPECIFIED for p in used)
        if needs and m.credential is None:
            self.add("credential", "a profile of this mailbox uses user_specified credentials: name the "
                     "mailbox's own credential (legacy: \"Emailuser\" is missing)")
        elif m.credential is not None and not needs:
            self.add("credential", "not used: none of this mailbox's profiles is user_specified; remove it")
        elif m.credential is not None:
            self.credential_ref("credential", m.credential, CredentialKind.PASSWORD)

    def unique_address(self, address: str, seen: dict[str, tuple[str, str]]) -> None:
        file, prefix = self._where
        first = seen.setdefault(address.casefold(), (file, prefix))
        if first != (file, prefix):
            self.add("address", f"{address} is already listed at {first[0]}: {first[1]}")

    # References -----------------------------------------------------------------------------------

    def profile_ref(self, key: str, name: str, direction: Direction) -> Profile | None:
        profile = self.ps.profiles.get(name)
        if profile is None and name in self.unchecked:
            return None
        if profile is None:
            self.add(key, f"no profile named {name!r}{_known(self.ps.profiles)}")
        elif profile.direction is not direction:
            self.add(key, f"profile {name!r} is {profile.direction.value}; an {direction.value} profile is "
                     "needed here")
            return None
        return profile

    def credential_ref(self, key: str, name: str, kind: CredentialKind | tuple[CredentialKind, ...]) -> None:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not is_valid_credential_name(name):
            self.add(key, f"{name!r} is not a valid credential name (letters, digits, '.', '_', '@', '-')")
        elif self.credentials is None:
            return
        elif name not in self.credentials:
            self.add(key, f"no credential named {name!r} in the vault: run "
                     f"`email-router credentials set {name} --kind {kinds[0].value}`")
        elif self.credentials[name] not in kinds:
            self.add(key, f"credential {name!r} is of kind {self.credentials[name].value}; a credential "
                     f"of kind {' or '.join(k.value for k in kinds)} is needed here")


def _known(names: Mapping[str, object]) -> str:
    return f" (defined: {', '.join(sorted(names))})" if names else " (none defined)"


def resolve_tls(tls: Tls, base: Path) -> Tls:
    """Return ``tls`` with a relative ``ca_bundle`` made absolute against ``base``."""
    if tls.ca_bundle is None or tls.ca_bundle.is_absolute():
        return tls
    return tls.model_copy(update={"ca_bundle": (base / tls.ca_bundle).resolve()})
