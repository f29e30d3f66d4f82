"""Fixtures of the outgoing flows: the simulator over HTTPS, the embedded CRM (or the Dynamics adapter
through the facade), and a home whose published configuration the real outgoing lanes run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pydantic import SecretStr

from router.clock import FrozenClock
from router.crm.embedded import EmbeddedCrm
from router.crm.facade import CrmFacade
from router.home import Home
from router.simulator import Controller, ServerConfig
from router.vault import PasswordCredential, Vault
from tests.flows.outgoing.world import SIM_ORG, OutgoingWorld
from tests.support.crm import (
    SERVICE_ACCOUNT,
    SERVICE_PASSWORD,
    Organisation,
    crm_clock,
    crm_facade,
    crm_org,
    embedded_crm,
)
from tests.support.ews_simulator import assert_valid, ews_schema, ews_tls_dir, make_validator

__all__ = ["crm_clock", "crm_facade", "crm_org", "embedded_crm", "ews_schema", "ews_tls_dir"]


@pytest.fixture
def sim(
    ews_schema: etree.XMLSchema | None, ews_tls_dir: Path, crm_clock: FrozenClock
) -> Iterator[Controller]:
    """The simulator seeded with Contoso's mailboxes; every body it serves or receives is schema-checked
    (when the schema is found)."""
    validator = make_validator(ews_schema)
    with Controller(config=ServerConfig(), state_dir=ews_tls_dir, seed=SIM_ORG, validator=validator,
                    clock=crm_clock) as controller:
        yield controller
    assert_valid(validator)


@pytest.fixture
def world(home: Home, tmp_path: Path, sim: Controller, embedded_crm: EmbeddedCrm, crm_org: Organisation,
          crm_clock: FrozenClock) -> Iterator[OutgoingWorld]:
    """The embedded-CRM world; the deployment opens the CRM's own database file."""
    section = f'[deployments.contoso.embedded]\ndatabase = "{tmp_path / "crm.sqlite"}"\n'
    built = OutgoingWorld(home, sim, embedded_crm, crm_clock, tmp_path / "profiles", section)
    built.setup_vault()
    yield built
    built.close_lanes()


@pytest.fixture
def dynamics_world(home: Home, tmp_path: Path, sim: Controller, embedded_crm: EmbeddedCrm,
                   crm_facade: CrmFacade, crm_clock: FrozenClock) -> Iterator[OutgoingWorld]:
    """The same world, but the deployment reaches the CRM through the Dynamics Web API adapter (NTLM over
    HTTP to the facade in front of the embedded CRM)."""
    section = (f'[deployments.contoso.dynamics]\nurl = "{crm_facade.api_url("9.0", "contoso")}"\n'
               'auth = "ntlm"\ncredential = "crm"\ninsecure_allow_clear_text_over_http = true\n')
    built = OutgoingWorld(home, sim, embedded_crm, crm_clock, tmp_path / "profiles", section)
    built.setup_vault()
    Vault.open(home).set("crm", PasswordCredential(username=SERVICE_ACCOUNT,
                                                   password=SecretStr(SERVICE_PASSWORD)))
    yield built
    built.close_lanes()
