"""Map one legacy provider's profile-like settings onto a ``Profile``.

The legacy Configuration Manager allowed combinations the new router refuses or cannot serve, and the
files often leave settings out. Each decision below is the one the legacy tool would have forced
(reference §1.2): Exchange Online means Clear Text and Other Specified; Local System is incoming-only
and Windows-authenticated; an administrator needs an access type. Every adjustment is reported.
POP3, SMTP and Exchange 2003 (WebDAV) providers have no EWS equivalent and are not imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from router.config.common import AuthMethod
from router.config.profile import (
    AccessType,
    CredentialSource,
    Direction,
    Profile,
    ServerType,
    UserType,
)
from router.legacy import model as legacy
from router.legacy.mapcontext import MapContext
from router.legacy.model import FindingKind, LegacyProvider, Severity

SERVER_TYPES: dict[legacy.ServerType, ServerType] = {
    legacy.ServerType.EXCHANGE_2007: ServerType.EXCHANGE_2013,
    legacy.ServerType.EXCHANGE_2010: ServerType.EXCHANGE_2013,
    legacy.ServerType.EXCHANGE_2013: ServerType.EXCHANGE_2013,
    legacy.ServerType.EXCHANGE_ONLINE: ServerType.EXCHANGE_ONLINE,
}
OUT_OF_SUPPORT = frozenset({legacy.ServerType.EXCHANGE_2007, legacy.ServerType.EXCHANGE_2010})
NO_EWS = frozenset({legacy.ServerType.EXCHANGE_2003, legacy.ServerType.POP3, legacy.ServerType.SMTP})
ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com", "partner.outlook.cn")


@dataclass(frozen=True)
class AccountRequest:
    """The service account a profile needs stored as a vault credential."""

    key: str
    wish: str
    username: str | None
    purpose: str


@dataclass(frozen=True)
class MappedProfile:
    """A provider's profile (without its credential name yet) and the account it needs, if any."""

    profile: Profile
    account: AccountRequest | None


class _ProfileMapper:
    """Maps one provider, reporting each adjustment against the provider's XML path."""

    def __init__(self, ctx: MapContext, provider: LegacyProvider) -> None:
        self.ctx, self.p = ctx, provider

    def note(self, key: str, message: str, severity: Severity = Severity.WARNING,
             kind: FindingKind = FindingKind.BAD_VALUE) -> None:
        path, line = self.p.where(key) if key else (self.p.path, self.p.line)
        self.ctx.report(self.p.file, path, kind, message, severity=severity, line=line)

    def skip(self, message: str) -> None:
        self.note("", f"provider {self.p.label()!r} not imported: {message}", kind=FindingKind.UNSUPPORTED)

    def server_type(self) -> ServerType | None:
        legacy_type = self.p.server_type
        if legacy_type in NO_EWS:
            self.skip(f"{legacy_type} has no Exchange Web Services; the new router speaks EWS only. "
                      "Add an EWS profile for these mailboxes by hand")
            return None
        if legacy_type is None:
            url = (self.p.email_server_url or "").lower()
            online = any(host in url for host in ONLINE_HOSTS)
            chosen = ServerType.EXCHANGE_ONLINE if online else ServerType.EXCHANGE_2013
            self.note("EmailServerType", f"no e-mail server type given: {chosen.value} assumed",
                      Severity.INFO)
            return chosen
        if legacy_type in OUT_OF_SUPPORT:
            self.note("EmailServerType", f"{legacy_type} is out of support; the profile says exchange_2013, "
                      "whose EWS it speaks. Upgrade the server", Severity.WARNING)
        return SERVER_TYPES[legacy_type]

    def credentials(self, online: bool, direction: Direction) -> CredentialSource:
        mode = self.p.credential_mode
        if mode is None:
            chosen = (CredentialSource.OTHER_SPECIFIED if self.p.email_user or online
                      or direction is Direction.OUTGOING else CredentialSource.LOCAL_SYSTEM)
            self.note("EmailAccessCredentials", f"no access credentials given: {chosen.value} assumed",
                      Severity.INFO)
            return chosen
        if mode is legacy.CredentialMode.LOCAL_SYSTEM and (online or direction is Direction.OUTGOING):
            self.note("EmailAccessCredentials", "Local System serves on-premises incoming mail only: "
                      "other_specified (a service account) is used instead")
            return CredentialSource.OTHER_SPECIFIED
        if mode is legacy.CredentialMode.USER_SPECIFIED and online:
            self.note("EmailAccessCredentials", "User Specified is not allowed for Exchange Online: "
                      "other_specified (a service account) is used instead")
            return CredentialSource.OTHER_SPECIFIED
        return CredentialSource(mode.value.replace("-", "_"))

    def auth(self, online: bool, source: CredentialSource) -> AuthMethod:
        mode = self.p.auth_mode
        wanted = AuthMethod.BASIC if online else AuthMethod.NTLM
        if source is CredentialSource.LOCAL_SYSTEM:
            if mode not in (None, legacy.AuthMode.WINDOWS):
                self.note("EmailAuthMode", "Local System signs in with the service's Windows identity: "
                          "ntlm is used")
            return AuthMethod.NTLM
        if mode is None:
            self.note("EmailAuthMode", f"no authentication type given: {wanted.value} assumed", Severity.INFO)
        elif mode is legacy.AuthMode.CLEAR_TEXT:
            wanted = AuthMethod.BASIC
        elif mode is legacy.AuthMode.ANONYMOUS or online:
            self.note("EmailAuthMode", f"{mode} authentication cannot open an Exchange mailbox over EWS"
                      f"{' Online' if online else ''}: {wanted.value} is used")
        if online:
            self.note("EmailAuthMode", 'Exchange Online has turned Basic authentication off for EWS: before '
                      'publishing, switch this profile to auth = "oauth" (tenant_id, client_id, '
                      'access_type = "impersonation")', Severity.WARNING, FindingKind.UNSUPPORTED)
        return wanted

    def location(self, online: bool, auth: AuthMethod) -> dict[str, object]:
        url = self.p.email_server_url
        if self.p.use_autodiscover:
            if url:
                self.note("EmailServerUrl", "Use Autodiscover is set: the server URL is not used",
                          Severity.INFO)
            return {"autodiscover": True}
        if url is None:
            self.note("EmailServerUrl", "no server URL: Autodiscover from the mailbox address is used",
                      Severity.INFO)
            return {"autodiscover": True}
        parts = urlsplit(url)
        if parts.scheme == "http":
            self.note("EmailServerUrl", f"{auth.value} credentials must not cross the network in clear: "
                      "the URL is changed to https; check the server presents a certificate")
            url = urlunsplit(("https", parts.netloc, parts.path, parts.query, parts.fragment))
        return {"ews_url": url}

    def user_and_access(self, source: CredentialSource,
                        direction: Direction) -> tuple[UserType, AccessType | None]:
        user_type, access = self.p.user_type, self.p.access_type
        own = user_type is None and source is CredentialSource.USER_SPECIFIED
        if user_type is legacy.UserType.USER or own:
            if access is not None:
                self.note("EmailAccessType", "an access type applies to administrators only: ignored")
            return UserType.USER, None
        if user_type is None:
            self.note("EmailUserType", "no user type given: administrator assumed, since the account acts on "
                      "other users' mailboxes", Severity.INFO)
        if access is None:
            self.note("EmailAccessType", "no access type given: delegate (Send On Behalf) assumed",
                      Severity.INFO)
            return UserType.ADMINISTRATOR, AccessType.DELEGATE
        if access is legacy.AccessType.SEND_AS and direction is Direction.INCOMING:
            self.note("EmailAccessType", "Send As applies to outgoing mail: delegate is used")
            return UserType.ADMINISTRATOR, AccessType.DELEGATE
        return UserType.ADMINISTRATOR, AccessType(access.value.replace("-", "_"))

    def account(self, source: CredentialSource) -> AccountRequest | None:
        if source is not CredentialSource.OTHER_SPECIFIED:
            return None
        user = self.p.email_user
        if user is None:
            self.note("EmailUser", "no service account named: set the credential's user name yourself",
                      Severity.INFO)
        wish = user or f"{self.p.name or 'legacy'}-account"
        key = user or f"{self.p.file}#{self.p.path}"
        return AccountRequest(key=key, wish=wish, username=user,
                              purpose="mailbox access account (legacy Other Specified)")

    def run(self) -> MappedProfile | None:
        direction = Direction(self.p.direction.value) if self.p.direction else None
        if direction is None:
            self.skip("its direction is unknown (no <Direction> and no known <ProviderClass>)")
            return None
        server = self.server_type()
        if server is None:
            return None
        online = server is ServerType.EXCHANGE_ONLINE
        source = self.credentials(online, direction)
        auth = self.auth(online, source)
        user_type, access = self.user_and_access(source, direction)
        fields: dict[str, object] = {
            "direction": direction, "server_type": server, "auth": auth, "credentials": source,
            **self.location(online, auth)}
        if user_type is UserType.ADMINISTRATOR:
            fields.update(user_type=user_type, access_type=access)
        return MappedProfile(Profile.model_validate(fields), self.account(source))


def map_profile(ctx: MapContext, provider: LegacyProvider) -> MappedProfile | None:
    """Return the profile ``provider`` needs, or None (reported) when it cannot be served over EWS."""
    return _ProfileMapper(ctx, provider).run()
