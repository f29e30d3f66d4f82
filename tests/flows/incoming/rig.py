"""The incoming flow rig: a home with a real published configuration pointing at the EWS simulator
(over HTTPS, trusted through the profile's CA bundle) and at the embedded CRM in the home.

Organisation (Exchange side, on top of the simulator's SMALL_ORG; CRM side, Contoso from
``tests/support/crm.py`` plus the records below):

* alice@contoso.com — CRM user Alice (filter: leads, contacts, accounts); mailbox bound as a user;
* bert@contoso.com — CRM user Bert (filter: all); mailbox bound as a user;
* sales@contoso.com — CRM queue Sales (all); bound as a queue;
* frank@contoso.com — CRM user Frank whose mail comes through the forward mailbox (filter: all);
* forward@contoso.com — the forward mailbox (no CRM record);
* logbook@contoso.com — the shared logging mailbox, a CRM queue accepting all mail, with the folders
  Inbox/Logged (storage) in Exchange;
* svc-crm@contoso.com — the router's service account: ApplicationImpersonation on every mailbox.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from router.clock import Clock, SystemClock
from router.config import Direction, load_published, publish
from router.config.published import PublishedConfig
from router.crm.codes import Approval, FilteringMethod, IncomingDeliveryMethod, OutgoingDeliveryMethod
from router.crm.embedded import EmbeddedCrm, MailboxSettings
from router.home import Home
from router.pipeline.incoming.checkpoints import Checkpoint, no_checkpoint
from router.pipeline.incoming.lanes import IncomingLanes
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import WorkContext, WorkResult
from router.runtime.resources import Resources
from router.service.drain import DrainReport, assignment_of, drain_mailbox
from router.simulator import Controller
from router.state import StateStore
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file
from router.vault.credentials import OAuthClientSecretCredential
from tests.support.crm import SERVICE_ACCOUNT, Organisation, seed_organisation
from tests.support.ews_simulator import PASSWORD, SVC

ALICE, BERT, SALES = "alice@contoso.com", "bert@contoso.com", "sales@contoso.com"
FRANK, FORWARD, LOGBOOK = "frank@contoso.com", "forward@contoso.com", "logbook@contoso.com"
CAROL = "carol@fabrikam.com"
EARLY = "2020-01-01T00:00:00Z"

EXCHANGE_SEED: dict[str, Any] = {
    "users": [
        {"address": BERT, "name": "Bert Brown", "password": PASSWORD},
        {"address": SALES, "name": "Sales"},
        {"address": FRANK, "name": "Frank Fisher", "password": PASSWORD},
        {"address": FORWARD, "name": "CRM Forward Mailbox"},
        {"address": LOGBOOK, "name": "Email Logbook"},
    ],
    "folders": [{"mailbox": LOGBOOK, "path": "Inbox/Logged"}, {"mailbox": ALICE, "path": "Inbox/CRM"}],
}

def binding(kind: str, address: str, extra: str = "") -> str:
    """One incoming-only mailbox binding (``users``, ``queues`` or ``forward_mailboxes``) as TOML."""
    outgoing = "" if kind == "forward_mailboxes" else "outgoing = false\n"
    return f'[[{kind}]]\naddress = "{address}"\n{outgoing}process_from = "{EARLY}"\n{extra}\n'


DEFAULT_MAILBOXES = binding("users", ALICE) + binding("users", BERT) + binding("queues", SALES)


class ShiftedClock(SystemClock):
    """The real clock, ``offset`` ahead: the router restarted that long after a crash."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return super().now() + self.offset


@dataclass
class Rig:
    """A published home wired to a simulator and the embedded CRM; see the module docstring."""

    home: Home
    sim: Controller
    crm: EmbeddedCrm
    org: Organisation
    profiles_dir: Path
    extra_org: dict[str, Any] = field(default_factory=dict)

    def publish(self, mailboxes: str = DEFAULT_MAILBOXES, *, settings: str = "", profile_extra: str = "",
                deployment_extra: str = "", period: float = 0.05, crm: str | None = None,
                autodiscover: bool = False, graph: bool = False) -> PublishedConfig:
        """Write the profiles (simulator profile, deployment, ``mailboxes``, settings) and publish.

        ``crm`` replaces the deployment's embedded CRM table (e.g. a ``[deployments.contoso.dynamics]``);
        ``autodiscover`` locates Exchange by Autodiscover at the simulator's explicit Autodiscover
        endpoint (the profile's ``autodiscover_url``) instead of the simulator's EWS URL. ``graph`` makes
        the profile reach the mailboxes over Microsoft Graph (the simulator's /v1.0/) as GRAPH_APP.
        """
        location = (f'autodiscover = true\n            autodiscover_url = "{self.sim.autodiscover_url}"'
                    if autodiscover else f'ews_url = "{self.sim.url}"')
        profile = (graph_profile(self.sim) if graph else textwrap.dedent(f"""
            [profiles.exchange]
            direction = "incoming"
            server_type = "exchange_se"
            {location}
            auth = "basic"
            credentials = "other_specified"
            credential = "svc"
            user_type = "administrator"
            access_type = "impersonation"
            tls = {{ ca_bundle = "{self.sim.ca_file}" }}
            """)) + profile_extra
        embedded = f"[deployments.contoso.embedded]\nservice_account = '{SERVICE_ACCOUNT}'\n"
        deployment = textwrap.dedent("""
            [deployments.contoso]
            default_incoming_profile = "exchange"
            """) + deployment_extra + (crm or embedded)
        base = f"[settings]\nscheduling_period_seconds = {period}\nlog_level = 3\n"
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        (self.profiles_dir / "profiles.toml").write_text(profile + deployment)
        (self.profiles_dir / "mailboxes.toml").write_text(mailboxes)
        (self.profiles_dir / "settings.toml").write_text(base + settings)
        publish(self.home, self.profiles_dir)
        return load_published(self.home)

    def resources(self, clock: Clock | None = None) -> Resources:
        """Fresh shared resources of one "process run" (the caller closes them)."""
        return Resources(self.home, clock or SystemClock(), Metrics())

    def drain(self, mailbox: str, *, clock: Clock | None = None,
              checkpoint: Checkpoint = no_checkpoint) -> DrainReport:
        """Run ``mailbox``'s lane until nothing waits, with resources of its own (one process run)."""
        resources = self.resources(clock)
        lanes = IncomingLanes(resources, checkpoint=checkpoint, notifications=False)
        try:
            return drain_mailbox(lanes, load_published(self.home), mailbox)
        finally:
            lanes.close()
            resources.close()

    def run_once(self, resources: Resources, mailbox: str) -> WorkResult:
        """One run of the lane built by the service's registered factory."""
        from router.runtime.registry import LaneWorkRegistry

        registry = LaneWorkRegistry()
        lanes = IncomingLanes.install(registry, resources)
        config = load_published(self.home)
        work = registry.build(assignment_of(resources, config, mailbox), Direction.INCOMING, config)
        try:
            return work(WorkContext(LaneKey(mailbox, Direction.INCOMING)))
        finally:
            close = getattr(work, "close", None)
            if close is not None:
                close()
            lanes.close()

    def store(self) -> StateStore:
        """The home's state store (the caller closes it)."""
        return StateStore.open_home(self.home, SystemClock())

    def activities(self, message_id: str) -> list[str]:
        """Ids of the CRM e-mails with ``message_id``."""
        from sqlalchemy import func, select

        from router.crm.embedded.schema import email

        with self.crm.reading() as conn:
            rows = conn.execute(select(email.c.activityid).where(
                func.lower(email.c.messageid) == message_id.lower()))
            return [str(r[0]) for r in rows]

    def incoming_count(self) -> int:
        """How many incoming e-mails the CRM holds."""
        return len(self.crm.emails(incoming=True, limit=10_000))


GRAPH_TENANT = "contoso.onmicrosoft.com"
GRAPH_APP = "22222222-aaaa-4bbb-8ccc-000000000001"
GRAPH_SECRET = "rig-graph-secret-7Qw"


def graph_profile(sim: Controller) -> str:
    """The incoming profile over Microsoft Graph: app-only OAuth with the vault credential ``graph``."""
    token = f"{sim.base_url}/{GRAPH_TENANT}/oauth2/v2.0/token"
    return textwrap.dedent(f"""
        [profiles.exchange]
        direction = "incoming"
        server_type = "exchange_online"
        transport = "graph"
        graph_url = "{sim.graph_url}"
        auth = "oauth"
        credentials = "other_specified"
        credential = "graph"
        user_type = "administrator"
        access_type = "impersonation"
        tls = {{ ca_bundle = "{sim.ca_file}" }}
        oauth = {{ tenant_id = "{GRAPH_TENANT}", client_id = "{GRAPH_APP}", token_endpoint = "{token}" }}
        """)


def make_rig(home: Home, sim: Controller, tmp_path: Path) -> Rig:
    """Seed the simulator and the CRM, write the home's key and the service account's credential."""
    sim.control.seed(EXCHANGE_SEED)
    sim.control.seed({"apps": [{"client_id": GRAPH_APP, "client_secret": GRAPH_SECRET, "tenant": GRAPH_TENANT,
                                "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}]})
    write_new_key_file(home.key_file, VaultKey.generate())
    vault = Vault.open(home)
    vault.set("svc", PasswordCredential(username=SVC, password=SecretStr(PASSWORD)))
    vault.set("graph", OAuthClientSecretCredential(client_secret=SecretStr(GRAPH_SECRET)))
    home.root.mkdir(parents=True, exist_ok=True)
    crm = EmbeddedCrm(home.crm_db)
    org = seed_organisation(crm)
    approved = MailboxSettings(approval=Approval.APPROVED, filtering=FilteringMethod.ALL)
    crm.add_user("Frank Fisher", FRANK, "CONTOSO\\frank", settings=MailboxSettings(
        incoming=IncomingDeliveryMethod.FORWARD_MAILBOX, outgoing=OutgoingDeliveryMethod.NONE,
        approval=Approval.APPROVED, filtering=FilteringMethod.ALL))
    crm.add_queue("Email Logbook", LOGBOOK, settings=approved)
    return Rig(home, sim, crm, org, tmp_path / "profiles")
