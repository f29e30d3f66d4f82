"""Each cross-field rule: what the legacy Configuration Manager enforced, and what we add."""

from __future__ import annotations

from typing import Any

import pytest

from router.config import Deployment, MailboxBinding, Profile, ProfileSet, check_profile_set
from router.config.risks import risks
from router.errors import Problem
from router.vault.credentials import CredentialKind

ONPREM: dict[str, Any] = {
    "direction": "incoming", "server_type": "exchange_se",
    "ews_url": "https://mail.example.test/EWS/Exchange.asmx", "auth": "ntlm",
    "credentials": "other_specified", "credential": "svc", "user_type": "administrator",
    "access_type": "delegate",
}
ONLINE: dict[str, Any] = {
    **ONPREM, "server_type": "exchange_online", "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx",
    "auth": "oauth", "credential": "app", "access_type": "impersonation",
    "oauth": {"tenant_id": "example.onmicrosoft.com", "client_id": "abc"},
}
KINDS = {"svc": CredentialKind.PASSWORD, "app": CredentialKind.OAUTH_CLIENT_SECRET,
         "alice": CredentialKind.PASSWORD}


def _check(profile: dict[str, Any], *, users: list[dict[str, Any]] | None = None,
           deployments: dict[str, dict[str, Any]] | None = None) -> list[Problem]:
    direction = profile["direction"]
    ps = ProfileSet(
        profiles={"p": Profile.model_validate(profile)},
        deployments={n: Deployment.model_validate(d) for n, d in
                     (deployments or {"main": {f"default_{direction}_profile": "p"}}).items()},
        users=[MailboxBinding.model_validate(u) for u in users or []])
    return check_profile_set(ps, lambda section, key: ("f.toml", f"{section}.{key}"), KINDS)


def _found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.key, p.message) for p in problems]


def test_valid_onprem_and_online_profiles_pass() -> None:
    assert _check(ONPREM) == [] and _check(ONLINE) == []
    assert _check({**ONLINE, "direction": "outgoing"}) == []


@pytest.mark.parametrize(("change", "key", "fragment"), [
    ({"ews_url": None}, "ews_url", "no location"),
    ({"autodiscover": True}, "autodiscover", "not both"),
    ({"autodiscover_url": "https://mail.example.test/autodiscover/autodiscover.svc"}, "autodiscover_url",
     "only used with autodiscover = true"),
    ({"server_type": "exchange_online", "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"},
     "auth", "not ntlm"),
    ({"auth": "basic", "ews_url": "http://mail.example.test/EWS/Exchange.asmx"}, "ews_url", "plain http"),
    ({"direction": "outgoing", "credentials": "local_system", "credential": None, "access_type": "send_as"},
     "credentials", "incoming profiles only"),
    ({"credentials": "local_system", "credential": None, "auth": "basic"}, "auth", "Windows identity"),
    ({"access_type": None}, "access_type", "administrator needs an access type"),
    ({"user_type": "user"}, "access_type", "only administrators"),
    ({"access_type": "send_as"}, "access_type", "outgoing profiles"),
    ({"credential": None}, "credential", "other_specified needs"),
    ({"credentials": "user_specified"}, "credential", "only used with other_specified"),
    ({"credential": "app"}, "credential", "is of kind oauth_client_secret"),
    ({"credential": "ghost"}, "credential", "credentials set ghost --kind password"),
    ({"oauth": {"tenant_id": "t", "client_id": "c"}}, "oauth", "only used with auth"),
    ({"tls": {"verify": False, "ca_bundle": "/etc/ca.pem"}}, "tls.ca_bundle", "unused when verify = false"),
])
def test_onprem_rule(change: dict[str, Any], key: str, fragment: str) -> None:
    found = _found(_check({**ONPREM, **change}))
    assert any(k == f"profiles.p.{key}" and fragment in m for k, m in found), found


@pytest.mark.parametrize(("change", "key", "fragment"), [
    ({"ews_url": "http://outlook.office365.com/EWS/Exchange.asmx"}, "ews_url", "https only"),
    ({"credentials": "user_specified", "credential": None}, "credentials", "not allowed for Exchange Online"),
    ({"oauth": None}, "oauth", "needs an oauth table"),
    ({"access_type": "delegate"}, "access_type", "impersonation only"),
    ({"credential": "svc"}, "credential", "of kind oauth_client_secret is needed"),
])
def test_online_rule(change: dict[str, Any], key: str, fragment: str) -> None:
    found = _found(_check({**ONLINE, **change}))
    assert any(k == f"profiles.p.{key}" and fragment in m for k, m in found), found


def test_clear_text_over_http_needs_the_loud_opt_in() -> None:
    lab = {**ONPREM, "auth": "basic", "ews_url": "http://lab.example.test/EWS/Exchange.asmx"}
    assert _check(lab)
    assert _check({**lab, "insecure_allow_clear_text_over_http": True}) == []


def test_ntlm_over_http_needs_the_same_opt_in() -> None:
    lab = {**ONPREM, "ews_url": "http://lab.example.test/EWS/Exchange.asmx"}
    assert [k for k, _ in _found(_check(lab))] == ["profiles.p.ews_url"]
    assert _check({**lab, "insecure_allow_clear_text_over_http": True}) == []


@pytest.mark.parametrize("oauth", [
    {"tenant_id": "t", "client_id": "c", "token_endpoint": "http://login.example.test/t/token"},
    {"tenant_id": "t", "client_id": "c", "authority": "http://login.example.test"},
])
def test_oauth_secret_is_never_posted_over_http_without_the_opt_in(oauth: dict[str, str]) -> None:
    profile = {**ONLINE, "server_type": "exchange_se", "oauth": oauth}
    found = _found(_check(profile))
    assert len(found) == 1 and found[0][0].startswith("profiles.p.oauth.") and "clear text" in found[0][1]
    assert _check({**profile, "insecure_allow_clear_text_over_http": True}) == []
    crm = {"url": "https://crm.example.test/api/data/v9.2/", "auth": "oauth", "credential": "app",
           "oauth": oauth}
    found = _found(_check(ONPREM, deployments={"main": {"default_incoming_profile": "p", "dynamics": crm}}))
    assert [k.split(".oauth.")[0] for k, _ in found] == ["deployments.main.dynamics"], found


@pytest.mark.parametrize("value", ["no", "off", "false", 0, 1, "yes"])
def test_tls_verify_accepts_only_true_or_false(value: object) -> None:
    with pytest.raises(ValueError, match="verify"):
        Profile.model_validate({**ONPREM, "tls": {"verify": value}})


def test_tls_verify_false_and_clear_text_are_named_as_risks() -> None:
    lab = Profile.model_validate({**ONPREM, "ews_url": "http://lab.example.test/EWS/Exchange.asmx",
                                  "insecure_allow_clear_text_over_http": True, "tls": {"verify": False}})
    ps = ProfileSet(profiles={"lab": lab, "ok": Profile.model_validate(ONPREM)},
                    deployments={"main": Deployment.model_validate({"default_incoming_profile": "ok"})})
    found = risks(ps)
    assert len(found) == 2 and all(r.startswith("profile 'lab'") for r in found)
    assert "NOT checked" in found[0] and "clear text" in found[1]


def test_local_system_incoming_with_ntlm_is_allowed() -> None:
    assert _check({**ONPREM, "credentials": "local_system", "credential": None}) == []


def test_user_specified_mailbox_needs_its_own_credential() -> None:
    profile = {**ONPREM, "credentials": "user_specified", "credential": None,
               "user_type": "user", "access_type": None}
    found = _found(_check(profile, users=[{"address": "a@example.test", "outgoing": False}]))
    assert found == [("users.0.credential", found[0][1])] and "Emailuser" in found[0][1]
    ok = _check(profile, users=[{"address": "a@example.test", "outgoing": False, "credential": "alice"}])
    assert ok == []


def test_mailbox_credential_without_user_specified_profile_is_refused() -> None:
    found = _found(_check(ONPREM, users=[{"address": "a@example.test", "outgoing": False,
                                          "credential": "alice"}]))
    assert [k for k, _ in found] == ["users.0.credential"]


def test_mailbox_without_any_direction_or_profile() -> None:
    found = _found(_check(ONPREM, users=[{"address": "a@example.test", "incoming": False, "outgoing": False},
                                         {"address": "b@example.test"}]))
    assert ("users.0", "neither incoming nor outgoing is enabled: enable one or remove the entry") in found
    assert any(k == "users.1.outgoing_profile" and "outgoing = false" in m for k, m in found)


def test_deployment_crm_choice_and_dynamics_credential() -> None:
    dynamics = {"url": "https://crm.example.test/api/data/v9.2/", "auth": "ntlm", "credential": "app"}
    both = {"default_incoming_profile": "p", "embedded": {}, "dynamics": dynamics}
    found = _found(_check(ONPREM, deployments={"main": both}))
    assert any(k == "deployments.main.dynamics" and "not both" in m for k, m in found)
    assert any(k == "deployments.main.dynamics.credential" and "of kind password is needed" in m
               for k, m in found)
