"""The sample profiles shipped in profiles/ validate, and cover what the issue asks them to show."""

from __future__ import annotations

from pathlib import Path

from router.config import (
    AccessType,
    AuthMethod,
    CredentialSource,
    Direction,
    DynamicsCrm,
    MailboxRole,
    ServerType,
    SystemSettings,
    load_profiles,
)
from router.vault.credentials import CredentialKind

SAMPLES = Path(__file__).resolve().parents[3] / "profiles"
SAMPLE_CREDENTIALS = {
    "svc-exchange": CredentialKind.PASSWORD,
    "contoso-app": CredentialKind.OAUTH_CLIENT_SECRET,
    "contoso-cn-app": CredentialKind.OAUTH_CLIENT_SECRET,
    "crm-app": CredentialKind.OAUTH_CLIENT_SECRET,
}


def test_samples_validate_with_and_without_the_vault() -> None:
    structural = load_profiles(SAMPLES)
    with_vault = load_profiles(SAMPLES, credentials=SAMPLE_CREDENTIALS)
    assert structural == with_vault
    assert structural.credential_names() == set(SAMPLE_CREDENTIALS)


def test_samples_cover_every_case_named_in_the_issue() -> None:
    ps = load_profiles(SAMPLES)
    onprem = ps.profiles["onprem-se-incoming"]
    assert (onprem.server_type, onprem.auth, onprem.autodiscover, onprem.direction) == (
        ServerType.EXCHANGE_SE, AuthMethod.NTLM, True, Direction.INCOMING)
    assert ps.profiles["onprem-send-as"].access_type is AccessType.SEND_AS
    assert ps.profiles["onprem-send-on-behalf"].access_type is AccessType.DELEGATE
    online = ps.profiles["exchange-online-incoming"]
    assert online.is_online and online.auth is AuthMethod.OAUTH
    assert online.credentials is CredentialSource.OTHER_SPECIFIED
    china = ps.profiles["exchange-online-china"]
    assert str(china.ews_url) == "https://partner.outlook.cn/EWS/Exchange.asmx"
    assert china.oauth is not None
    assert china.oauth.token_url() == (
        "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn/oauth2/v2.0/token")
    forward = [m for m in ps.mailboxes() if m.role is MailboxRole.FORWARD]
    assert len(forward) == 1 and forward[0].delete_after_processing
    assert isinstance(ps.deployments["contoso-online"].crm, DynamicsCrm)


def test_sample_settings_are_the_legacy_defaults() -> None:
    assert load_profiles(SAMPLES).settings == SystemSettings()


def test_embedded_database_path_is_relative_to_the_home(tmp_path: Path) -> None:
    from router.config import EmbeddedCrm
    from router.home import Home

    home = Home(tmp_path / "home")
    assert EmbeddedCrm().database_path(home) == home.crm_db
    assert EmbeddedCrm(database=Path("org.sqlite")).database_path(home) == home.root / "org.sqlite"
    assert EmbeddedCrm(database=Path("/srv/crm.sqlite")).database_path(home) == Path("/srv/crm.sqlite")
