"""transport = "graph": its rules, the EWS switch-off warnings, and the CLI and import report saying so."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.config import Deployment, Profile, ProfileSet, check_profile_set
from router.config.transport import ews_switch_off_warnings
from router.errors import Problem
from router.vault.credentials import CredentialKind
from tests.unit.config.conftest import BASE_FILES, write_profiles

GRAPH: dict[str, Any] = {
    "direction": "incoming", "server_type": "exchange_online", "transport": "graph", "auth": "oauth",
    "credentials": "other_specified", "credential": "app", "user_type": "administrator",
    "access_type": "impersonation",
    "oauth": {"tenant_id": "example.onmicrosoft.com", "client_id": "abc"},
}
KINDS = {"app": CredentialKind.OAUTH_CLIENT_SECRET, "cert": CredentialKind.OAUTH_CERTIFICATE,
         "svc": CredentialKind.PASSWORD}


def _check(profile: dict[str, Any]) -> list[tuple[str, str]]:
    default = f"default_{profile['direction']}_profile"
    ps = ProfileSet(profiles={"p": Profile.model_validate(profile)},
                    deployments={"main": Deployment.model_validate({default: "p"})})
    problems: list[Problem] = check_profile_set(ps, lambda s, k: ("f.toml", f"{s}.{k}"), KINDS)
    return [(p.key, p.message) for p in problems]


def test_a_graph_profile_with_a_secret_or_a_certificate_is_valid() -> None:
    assert _check(GRAPH) == []
    assert _check({**GRAPH, "credential": "cert"}) == []


def test_ews_is_the_default_transport() -> None:
    onprem = {**GRAPH, "server_type": "exchange_se", "ews_url": "https://mail.example.test/EWS/Exchange.asmx"}
    onprem.pop("transport")
    assert Profile.model_validate(onprem).transport == "ews"


@pytest.mark.parametrize(("change", "key", "fragment"), [
    ({"server_type": "exchange_2019"}, "profiles.p.server_type", "Exchange Online only"),
    ({"auth": "basic", "oauth": None}, "profiles.p.auth", "app-only OAuth"),
    ({"ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"}, "profiles.p.ews_url", "not used"),
    ({"autodiscover": True}, "profiles.p.autodiscover", "not used"),
    ({"credential": "svc"}, "profiles.p.credential", "oauth_client_secret or oauth_certificate"),
    ({"national_cloud": "us-gov"}, "profiles.p.oauth.authority", "https://login.microsoftonline.us"),
    ({"national_cloud": "mars"}, None, None),
])
def test_graph_rules(change: dict[str, Any], key: str | None, fragment: str | None) -> None:
    if key is None:
        with pytest.raises(ValueError, match="national_cloud"):
            Profile.model_validate({**GRAPH, **change})
        return
    found = _check({**GRAPH, **change})
    assert any(k == key and fragment in m for k, m in found), found


def test_a_national_cloud_with_its_own_authority_is_valid() -> None:
    china = {**GRAPH, "national_cloud": "china",
             "oauth": {**GRAPH["oauth"], "authority": "https://login.chinacloudapi.cn"}}
    assert _check(china) == []


def test_graph_only_keys_on_an_ews_profile_are_refused() -> None:
    ews = {**GRAPH, "transport": "ews", "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx",
           "national_cloud": "china"}
    assert [k for k, _ in _check(ews)] == ["profiles.p.transport"]


def test_warnings_name_each_online_ews_profile_with_the_days_left() -> None:
    online_ews = {**GRAPH, "transport": "ews", "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"}
    ps = ProfileSet(profiles={"b-ews": Profile.model_validate(online_ews),
                              "a-graph": Profile.model_validate(GRAPH)})
    assert ews_switch_off_warnings(ps, date(2026, 12, 7)) == [
        'warning: profile "b-ews" reaches Exchange Online over EWS, which Microsoft switches off on '
        '2027-04-01 (115 days left): set transport = "graph" '
        '(see README "Exchange Online after EWS: Microsoft Graph")'
    ]
    late = ews_switch_off_warnings(ps, date(2027, 4, 3))
    assert len(late) == 1 and "since 2027-04-01 (2 days ago)" in late[0]


def test_validate_warns_on_stderr_and_still_succeeds(tmp_path: Path) -> None:
    files = dict(BASE_FILES)
    files["online.toml"] = """
[profiles.cloud]
direction = "incoming"
server_type = "exchange_online"
ews_url = "https://outlook.office365.com/EWS/Exchange.asmx"
auth = "oauth"
credentials = "other_specified"
credential = "app"
user_type = "administrator"
access_type = "impersonation"
[profiles.cloud.oauth]
tenant_id = "example.onmicrosoft.com"
client_id = "abc"

[profiles.cloud-graph]
direction = "incoming"
server_type = "exchange_online"
transport = "graph"
auth = "oauth"
credentials = "other_specified"
credential = "app"
user_type = "administrator"
access_type = "impersonation"
[profiles.cloud-graph.oauth]
tenant_id = "example.onmicrosoft.com"
client_id = "abc"
"""
    directory = write_profiles(tmp_path / "profiles", files)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "profiles", "validate", "--no-vault",
                                      str(directory)])
    assert result.exit_code == 0, result.output
    assert 'warning: profile "cloud" reaches Exchange Online over EWS' in result.stderr
    assert 'profile "cloud-graph" reaches' not in result.stderr and "OK:" in result.stdout


def test_service_mailbox_names_who_sends_over_graph() -> None:
    outgoing = {**GRAPH, "direction": "outgoing", "access_type": "send_as"}
    assert _check({**outgoing, "service_mailbox": "crm.service@example.com"}) == []
    assert _check({**outgoing, "service_mailbox": "crm.service@example.com", "access_type": "delegate"}) == []
    assert _check({**outgoing, "access_type": "impersonation"}) == [], "unset: each user's own mailbox sends"
    [(key, _)] = _check({**outgoing, "service_mailbox": "crm.service@example.com",
                         "access_type": "impersonation"})
    assert key == "profiles.p.access_type"
    [(key, message)] = _check({**outgoing, "service_mailbox": "CRM Service"})
    assert key == "profiles.p.service_mailbox" and "primary SMTP address" in message
    [(key, message)] = _check({**GRAPH, "service_mailbox": "crm.service@example.com"})
    assert key == "profiles.p.service_mailbox" and "incoming profile" in message
    onprem = {**outgoing, "transport": "ews", "server_type": "exchange_se", "auth": "basic", "oauth": None,
              "credential": "svc", "ews_url": "https://mail.example.test/EWS/Exchange.asmx",
              "service_mailbox": "crm.service@example.com"}
    assert ("profiles.p.service_mailbox", 'service_mailbox is used with transport = "graph" only: remove it '
            "(over EWS the profile's credential decides whose mailbox sends)") in _check(onprem)


def test_graph_profiles_validate_without_a_not_served_warning(tmp_path: Path) -> None:
    files = dict(BASE_FILES)
    files["graph.toml"] = """
[profiles.cloud-graph]
direction = "outgoing"
server_type = "exchange_online"
transport = "graph"
auth = "oauth"
credentials = "other_specified"
credential = "app"
user_type = "administrator"
access_type = "send_as"
service_mailbox = "crm.service@example.com"
[profiles.cloud-graph.oauth]
tenant_id = "example.onmicrosoft.com"
client_id = "abc"
"""
    directory = write_profiles(tmp_path / "profiles", files)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "profiles", "validate", "--no-vault",
                                      str(directory)])
    assert result.exit_code == 0, result.output
    assert "cloud-graph" not in result.stderr and "OK:" in result.stdout
