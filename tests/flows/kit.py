"""The flow tests' organisation: Contoso in the EWS simulator and in the embedded CRM, published profiles.

``Contoso`` owns a temporary home (key, vault with the service account's credential ``svc``), the
embedded CRM at the home's default path, seeded with the simulator's users, and writes and publishes
profiles that reach the simulator over HTTPS (verifying its CA). ``InboxLanes`` is lane work for tests
that need lanes touching Exchange before the pipelines exist: each run signs in and opens the Inbox.
``running`` starts the real service machinery (``assemble_service``) with such lanes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import Direction, MailboxAssignment, PublishedConfig, publish
from router.crm.codes import Approval, IncomingDeliveryMethod, OutgoingDeliveryMethod
from router.crm.embedded import EmbeddedCrm, MailboxSettings, admin
from router.crm.facade import CrmFacade
from router.ews.errors import ews_errors
from router.home import Home
from router.runtime.connections import connection_spec
from router.runtime.metrics import Metrics
from router.runtime.outcome import LaneWork, WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.service.assembly import assemble_service
from router.service.service import Service
from router.simulator import Controller
from router.state import StateStore
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, facade_credentials
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, QUEUE, SVC
from tests.unit.service.lanes_kit import WAIT, FixedJitter, Recorder

IN, OUT = Direction.INCOMING, Direction.OUTGOING

SETTINGS = """
[settings]
max_threads = 4
scheduling_period_seconds = 0.05
config_refresh_period_seconds = 0.05
log_level = 2
"""


def profiles_toml(url: str, ca_file: Path, *, default_outgoing: str | None = "out", crm: str = "") -> str:
    """Profiles reaching the simulator as the service account: impersonation in; Send As, delegate or
    impersonation out."""
    common = (f'server_type = "exchange_2019"\news_url = "{url}"\nauth = "basic"\n'
              f'credentials = "other_specified"\ncredential = "svc"\nuser_type = "administrator"\n'
              f'tls = {{ ca_bundle = "{ca_file}" }}\n')
    outgoing = f'default_outgoing_profile = "{default_outgoing}"\n' if default_outgoing else ""
    return (f'[profiles.in]\ndirection = "incoming"\naccess_type = "impersonation"\n{common}\n'
            f'[profiles.out]\ndirection = "outgoing"\naccess_type = "send_as"\n{common}\n'
            f'[profiles.out_delegate]\ndirection = "outgoing"\naccess_type = "delegate"\n{common}\n'
            f'[profiles.out_impersonation]\ndirection = "outgoing"\naccess_type = "impersonation"\n{common}\n'
            f'[deployments.main]\ndefault_incoming_profile = "in"\n{outgoing}\n{crm}')


def dynamics_section(facade: CrmFacade) -> str:
    """The deployment's CRM as the Dynamics Web API: NTLM over HTTP to the facade in front of the CRM."""
    return (f'[deployments.main.dynamics]\nurl = "{facade.api_url("9.0", "contoso")}"\nauth = "ntlm"\n'
            'credential = "crm"\ninsecure_allow_clear_text_over_http = true\n')


class Contoso:
    """The home, simulator and CRM of one flow test; see the module docstring."""

    def __init__(self, home: Home, sim: Controller, crm: EmbeddedCrm, directory: Path,
                 clock: FrozenClock) -> None:
        self.home, self.sim, self.crm, self.directory, self.clock = home, sim, crm, directory, clock
        self.mailbox_ids: dict[str, str] = {}
        self.crm_section = ""
        """The deployment's CRM table (empty: the embedded CRM in the home); see ``through_dynamics``."""

    def add_user(self, address: str, name: str, *, approval: Approval = Approval.APPROVED,
                 incoming: IncomingDeliveryMethod = IncomingDeliveryMethod.ROUTER,
                 outgoing: OutgoingDeliveryMethod = OutgoingDeliveryMethod.ROUTER) -> str:
        settings = MailboxSettings(incoming=incoming, outgoing=outgoing, approval=approval)
        self.crm.add_user(name, address, f"CONTOSO\\{address.split('@')[0]}", settings=settings)
        return self._mailbox_id(address)

    def add_queue(self, address: str, name: str, **methods: IncomingDeliveryMethod | OutgoingDeliveryMethod
                  ) -> str:
        self.crm.add_queue(name, address, settings=MailboxSettings(approval=Approval.APPROVED, **methods))
        return self._mailbox_id(address)

    def _mailbox_id(self, address: str) -> str:
        self.mailbox_ids[address] = str(self.mailbox(address)["mailboxid"])
        return self.mailbox_ids[address]

    def mailbox(self, address: str) -> dict[str, object]:
        """The CRM's mailbox row of ``address``."""
        with self.crm.reading() as conn:
            return dict(admin.find_mailbox(conn, address))

    def through_dynamics(self, facade: CrmFacade) -> None:
        """Publish the deployment with its CRM reached through the Web API facade (the Dynamics adapter)."""
        Vault.open(self.home).set("crm", PasswordCredential(username=SERVICE_ACCOUNT,
                                                            password=SecretStr(SERVICE_PASSWORD)))
        self.crm_section = dynamics_section(facade)

    def set_password(self, password: str) -> None:
        Vault.open(self.home).set("svc", PasswordCredential(username=SVC, password=SecretStr(password)))

    def publish(self, bindings: str = "", *, settings: str = SETTINGS,
                default_outgoing: str | None = "out") -> int:
        """Write the profiles (plus ``bindings`` TOML) and publish them at the clock's time."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "profiles.toml").write_text(
            profiles_toml(self.sim.url, self.sim.ca_file, default_outgoing=default_outgoing,
                          crm=self.crm_section))
        (self.directory / "settings.toml").write_text(settings)
        (self.directory / "mailboxes.toml").write_text(bindings)
        return publish(self.home, self.directory, clock=self.clock)

    def store(self) -> StateStore:
        return StateStore.open_home(self.home, self.clock)


@pytest.fixture
def facade(contoso: Contoso) -> Iterator[CrmFacade]:
    """The Dynamics Web API facade over Contoso's CRM, on 127.0.0.1, accepting the router's NTLM account."""
    with CrmFacade(contoso.crm, credentials=facade_credentials()) as running_facade:
        yield running_facade


@pytest.fixture
def frozen() -> FrozenClock:
    """Frozen at the real time of the test, so that CLI commands (system clock) see "the last hour" alike."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def contoso(home: Home, ews_simulator: Controller, frozen: FrozenClock, tmp_path: Path) -> Iterator[Contoso]:
    """Contoso with Alice and Bob (users) and the support queue in both the simulator and the CRM."""
    write_new_key_file(home.key_file, VaultKey.generate())
    crm = EmbeddedCrm(home.crm_db, clock=frozen)
    org = Contoso(home, ews_simulator, crm, tmp_path / "profiles", frozen)
    org.set_password(PASSWORD)
    none = MailboxSettings(incoming=IncomingDeliveryMethod.NONE, outgoing=OutgoingDeliveryMethod.NONE)
    crm.add_user("E-mail Router", "svc-router@contoso.com", SERVICE_ACCOUNT, settings=none)
    org.add_user(ALICE, "Alice Adams")
    org.add_user(BOB, "Bob Brown")
    org.add_queue(QUEUE, "Support Queue")
    yield org
    crm.close()


class InboxLanes:
    """Lane work that signs in and opens the mailbox's Inbox through the lane's profile, then is idle."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources

    def build(self, assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork:
        spec = connection_spec(config, assignment, direction)
        accounts = self._resources.accounts

        def work(context: WorkContext) -> WorkResult:
            account = accounts.account(spec)
            with ews_errors(mailbox=assignment.address):
                account.inbox.refresh()
            return WorkResult()

        return work


@contextmanager
def running(org: Contoso, *directions: Direction, recorder: Recorder | None = None) -> Iterator[Service]:
    """The real service (directory, health, CRM status) with ``InboxLanes`` for ``directions``."""
    resources = Resources(org.home, org.clock, Metrics())
    registry = LaneWorkRegistry()
    lanes = InboxLanes(resources)
    for direction in directions or (IN,):
        registry.register(direction, lanes.build)
    registry.call_on_close(resources.close)
    service = assemble_service(org.home, registry, resources, observers=[recorder] if recorder else [],
                               rng=FixedJitter())
    try:
        service.start()
        yield service
    finally:
        service.stop(grace=WAIT)
