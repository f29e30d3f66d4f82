"""A deployment opens its CRM: the embedded database, or Dynamics through the Web API facade."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import load_published, publish
from router.crm.dynamics import DynamicsGateway
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.facade import CrmFacade
from router.errors import ConfigError
from router.home import Home
from router.runtime.crm_factory import open_gateway
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, crm_clock, crm_facade, crm_org, embedded_crm

__all__ = ["crm_clock", "crm_facade", "crm_org", "embedded_crm"]

PROFILE = """
[profiles.in]
direction = "incoming"
server_type = "exchange_se"
ews_url = "https://mail.example.test/EWS/Exchange.asmx"
auth = "basic"
credentials = "other_specified"
credential = "svc"
user_type = "administrator"
access_type = "impersonation"
"""


def _publish(home: Home, tmp_path: Path, deployment: str) -> None:
    write_new_key_file(home.key_file, VaultKey.generate())
    vault = Vault.open(home)
    vault.set("svc", PasswordCredential(username=SERVICE_ACCOUNT, password=SecretStr(SERVICE_PASSWORD)))
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "main.toml").write_text(PROFILE + deployment)
    publish(home, directory)


def test_embedded_deployment_opens_its_database(home: Home, tmp_path: Path) -> None:
    _publish(home, tmp_path, '[deployments.main]\ndefault_incoming_profile = "in"\n'
                             '[deployments.main.embedded]\ndatabase = "org.sqlite"\n')
    gateway = open_gateway(load_published(home), "main", home, FrozenClock())
    try:
        assert isinstance(gateway, EmbeddedGateway)
        assert gateway.who_am_i().organization_id
        assert (home.root / "org.sqlite").exists()
    finally:
        gateway.close()


def test_dynamics_deployment_talks_ntlm_to_the_facade(home: Home, tmp_path: Path, crm_facade: CrmFacade,
                                                       embedded_crm: EmbeddedCrm) -> None:
    url = crm_facade.api_url("9.0", "contoso")
    _publish(home, tmp_path, f'[deployments.main]\ndefault_incoming_profile = "in"\n'
                             f'[deployments.main.dynamics]\nurl = "{url}"\nauth = "ntlm"\n'
                             'credential = "svc"\n'
                             'insecure_allow_clear_text_over_http = true\n')
    gateway = open_gateway(load_published(home), "main", home, FrozenClock())
    try:
        assert isinstance(gateway, DynamicsGateway)
        assert gateway.who_am_i().user_id == embedded_crm.who_am_i(SERVICE_ACCOUNT).user_id
        assert any(m.address == "alice@contoso.com" for m in gateway.load_data())
    finally:
        gateway.close()


def test_unknown_deployment_is_a_config_error(home: Home, tmp_path: Path) -> None:
    _publish(home, tmp_path, '[deployments.main]\ndefault_incoming_profile = "in"\n')
    with pytest.raises(ConfigError, match="no deployment 'other'"):
        open_gateway(load_published(home), "other", home, FrozenClock())


def test_resources_open_each_gateway_once_and_close_everything(home: Home, tmp_path: Path) -> None:
    from router.runtime.metrics import Metrics
    from router.runtime.resources import Resources

    _publish(home, tmp_path, '[deployments.main]\ndefault_incoming_profile = "in"\n')
    config = load_published(home)
    resources = Resources(home, FrozenClock(), Metrics())
    first = resources.gateway(config, "main")
    assert resources.gateway(config, "main") is first
    assert resources.store.sync.process_from("alice@example.test") is None
    resources.close()
    assert home.state_db.exists() and home.crm_db.exists()


def test_a_new_version_shares_the_gateway_until_its_crm_connection_changes(home: Home,
                                                                           tmp_path: Path) -> None:
    from router.runtime.metrics import Metrics
    from router.runtime.resources import Resources

    deployment = '[deployments.main]\ndefault_incoming_profile = "in"\n'
    _publish(home, tmp_path, deployment)
    first = load_published(home)
    (tmp_path / "profiles" / "main.toml").write_text(PROFILE + deployment + "[settings]\nmax_threads = 7\n")
    publish(home, tmp_path / "profiles")
    second = load_published(home)
    (tmp_path / "profiles" / "main.toml").write_text(
        PROFILE + deployment + '[deployments.main.embedded]\ndatabase = "other.sqlite"\n')
    publish(home, tmp_path / "profiles")
    third = load_published(home)
    assert (first.version, second.version, third.version) == (1, 2, 3)
    resources = Resources(home, FrozenClock(), Metrics())
    try:
        gateway = resources.gateway(first, "main")
        assert resources.gateway(second, "main") is gateway, "settings alone do not reconnect"
        assert resources.gateway(third, "main") is not gateway, "another database is another gateway"
    finally:
        resources.close()
    assert (home.root / "other.sqlite").exists()


def test_the_gateways_resources_open_count_every_operation_per_deployment(home: Home, tmp_path: Path) -> None:
    _publish(home, tmp_path, '[deployments.main]\ndefault_incoming_profile = "in"\n'
                             '[deployments.main.embedded]\ndatabase = "org.sqlite"\n')
    metrics = Metrics()
    with Resources(home, FrozenClock(), metrics) as resources:
        gateway = resources.gateway(load_published(home), "main")
        gateway.who_am_i()
        gateway.who_am_i()
        assert gateway.pending_send_mailboxes([]) == frozenset()
    text = metrics.exposition().decode()
    assert 'email_router_crm_requests_total{deployment="main",operation="who_am_i"} 2.0' in text
    assert 'operation="pending_send_mailboxes"} 1.0' in text and 'operation="close"' not in text
