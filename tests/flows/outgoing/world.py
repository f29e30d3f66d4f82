"""The outgoing world of the flow tests: an EWS simulator, a CRM, a home with a published configuration,
and the real outgoing lanes built by the service's registry.

The organisation matches the CRM's Contoso (``tests.support.crm``): Alice Archer and Bert Brown are
users with mailboxes, Sales is a shared mailbox (a CRM queue), ``svc-crm`` is the Exchange service
account the profiles log on with. Carol (carol@fabrikam.com) is outside the organisation, so what she
receives is in the simulator's journal. Rights are granted per test with ``grant``.
"""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from router.clock import FrozenClock
from router.config import Direction, MailboxAssignment, PublishedConfig, load_published, publish
from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.crm.gateway import RecordRef
from router.home import Home
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.outcome import WorkContext, WorkResult
from router.runtime.registry import LaneWorkRegistry
from router.runtime.resources import Resources
from router.service.directory import served_assignment
from router.service.wiring import lane_work_registry
from router.simulator import Controller
from router.state import StateStore
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file
from router.vault.credentials import OAuthClientSecretCredential
from tests.support.crm import draft_email

PASSWORD = "Pa55word!"
ALICE, BERT, SALES, SVC = "alice@contoso.com", "bert@contoso.com", "sales@contoso.com", "svc-crm@contoso.com"
CAROL = "carol@fabrikam.com"
SIM_ORG: dict[str, Any] = {
    "users": [
        {"address": ALICE, "name": "Alice Archer", "password": PASSWORD, "username": "alice"},
        {"address": BERT, "name": "Bert Brown", "password": PASSWORD, "username": "bert"},
        {"address": SVC, "name": "CRM Service", "password": PASSWORD, "username": "svc-crm",
         "application_impersonation": True},
        {"address": SALES, "name": "Sales"},
    ],
}
"""Exchange's side of Contoso; the service account has no right on anyone until a test grants one."""

DEPLOYMENT = "contoso"
GRAPH_TENANT = "contoso.onmicrosoft.com"
GRAPH_APP = "33333333-aaaa-4bbb-8ccc-000000000001"
GRAPH_SECRET = "world-graph-secret-4Rt"

SETTINGS = {"request_batch_size": 5, "maximum_delivery_attempts": 3, "send_rate_per_minute": 30}


def parse(raw: bytes) -> EmailMessage:
    """A received message, parsed."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class OutgoingWorld:
    """Everything an outgoing flow needs, and what the tests assert on."""

    home: Home
    sim: Controller
    crm: EmbeddedCrm
    clock: FrozenClock
    profiles_dir: Path
    crm_section: str
    registry: LaneWorkRegistry | None = None
    resources: Resources | None = None
    config: PublishedConfig | None = None
    lanes: dict[str, Any] = field(default_factory=dict)

    # Configuration.

    def setup_vault(self) -> None:
        """A home key and the credentials the profiles name (the service account, Alice's own)."""
        write_new_key_file(self.home.key_file, VaultKey.generate())
        vault = Vault.open(self.home)
        vault.set("svc", PasswordCredential(username=SVC, password=SecretStr(PASSWORD)))
        vault.set("alice", PasswordCredential(username=ALICE, password=SecretStr(PASSWORD)))

    def publish(self, *, access: str = "send_as", credentials: str = "other_specified",
                settings: dict[str, object] | None = None, users: tuple[str, ...] = (ALICE, BERT),
                queues: tuple[str, ...] = (SALES,), graph: bool = False,
                service_mailbox: str | None = None) -> PublishedConfig:
        """Publish one outgoing profile used by every mailbox; a new publish rebuilds the lanes.

        ``graph``: the profile sends over Microsoft Graph as GRAPH_APP, from ``service_mailbox`` with
        From = the user when given, else from each user's own mailbox."""
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        profile = (self._graph_profile(access, service_mailbox) if graph
                   else self._profile(access, credentials))
        text = profile + self._deployment()
        text += self._mailboxes(users, queues, credentials)
        text += "[settings]\n" + "".join(f"{k} = {v}\n" for k, v in {**SETTINGS, **(settings or {})}.items())
        (self.profiles_dir / "router.toml").write_text(text)
        publish(self.home, self.profiles_dir)
        self.lanes = {}  # The service rebuilds the lanes of a new version with the same registry.
        self.config = load_published(self.home)
        return self.config

    def _profile(self, access: str, credentials: str) -> str:
        admin = credentials == "other_specified"
        lines = ["[profiles.out]", 'direction = "outgoing"', 'server_type = "exchange_2019"',
                 f'ews_url = "{self.sim.url}"', 'auth = "basic"', f'credentials = "{credentials}"']
        if admin:
            lines += ['credential = "svc"', 'user_type = "administrator"', f'access_type = "{access}"']
        lines += [f'tls = {{ ca_bundle = "{self.sim.ca_file}" }}', ""]
        return "\n".join(lines) + "\n"

    def _graph_profile(self, access: str, service_mailbox: str | None) -> str:
        self.sim.control.seed({"apps": [{"client_id": GRAPH_APP, "client_secret": GRAPH_SECRET,
                                         "tenant": GRAPH_TENANT,
                                         "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}]})
        Vault.open(self.home).set("graph", OAuthClientSecretCredential(client_secret=SecretStr(GRAPH_SECRET)))
        token = f"{self.sim.base_url}/{GRAPH_TENANT}/oauth2/v2.0/token"
        lines = ["[profiles.out]", 'direction = "outgoing"', 'server_type = "exchange_online"',
                 'transport = "graph"', f'graph_url = "{self.sim.graph_url}"', 'auth = "oauth"',
                 'credentials = "other_specified"', 'credential = "graph"',
                 'user_type = "administrator"',
                 f'access_type = "{access}"', f'tls = {{ ca_bundle = "{self.sim.ca_file}" }}',
                 f'oauth = {{ tenant_id = "{GRAPH_TENANT}", client_id = "{GRAPH_APP}", '
                 f'token_endpoint = "{token}" }}']
        if service_mailbox:
            lines.append(f'service_mailbox = "{service_mailbox}"')
        return "\n".join(lines) + "\n\n"

    def _deployment(self) -> str:
        return f'[deployments.{DEPLOYMENT}]\ndefault_outgoing_profile = "out"\n{self.crm_section}\n'

    @staticmethod
    def _mailboxes(users: tuple[str, ...], queues: tuple[str, ...], credentials: str) -> str:
        own = 'credential = "alice"\n' if credentials == "user_specified" else ""
        text = "".join(f'[[users]]\naddress = "{a}"\nincoming = false\n{own}' for a in users)
        return text + "".join(f'[[queues]]\naddress = "{a}"\nincoming = false\n{own}' for a in queues)

    def grant(self, right: str, mailbox: str = ALICE, to: str = SVC) -> None:
        """Give ``to`` a right on ``mailbox`` in Exchange."""
        self.sim.control.grant(right, mailbox, to)

    # The CRM.

    def pending(self, sender: RecordRef, *to: str, subject: str = "Quote 42", **fields: Any) -> str:
        """A CRM email from ``sender`` to ``to``, sent by its user: Pending Send, with a tracking token."""
        email_id = draft_email(self.crm, sender, *to, subject=subject, **fields)
        self.crm.send_email(None, email_id)
        return email_id

    def status(self, email_id: str) -> EmailStatus:
        return EmailStatus(self.crm.email(email_id).row["statuscode"])

    def row(self, email_id: str) -> Any:
        return self.crm.email(email_id).row

    def notes(self, email_id: str) -> list[str]:
        return [str(note["notetext"]) for note in self.crm.email(email_id).notes]

    # The lanes.

    def run(self, address: str = ALICE) -> WorkResult:
        """Run the outgoing lane of ``address`` once, as the scheduler would."""
        return self.lane(address)(self.context(address))

    @staticmethod
    def context(address: str) -> WorkContext:
        """The context the scheduler gives one run of ``address``'s outgoing lane."""
        return WorkContext(LaneKey(address, Direction.OUTGOING))

    def lane(self, address: str = ALICE) -> Any:
        """The outgoing work of ``address``, built by the service's registry from the published config for
        the mailbox as the service's directory serves it (matched to the CRM's Load Data)."""
        if address not in self.lanes:
            assert self.config is not None, "publish first"
            resources = self._resources()
            assignment = served_assignment(self.config, address, Direction.OUTGOING, source=resources.gateway,
                                           clock=self.clock)
            self.lanes[address] = self.build(assignment)
        return self.lanes[address]

    def build(self, assignment: MailboxAssignment) -> Any:
        """The outgoing work of ``assignment``, built by the service's registry."""
        assert self.config is not None and self.registry is not None
        return self.registry.build(assignment, Direction.OUTGOING, self.config)

    def published(self, address: str) -> MailboxAssignment:
        """``address``'s binding as published, not matched to the CRM (as when its Load Data failed)."""
        assert self.config is not None, "publish first"
        self._resources()
        return next(m for m in self.config.profiles.mailboxes() if m.address == address)

    def _resources(self) -> Resources:
        if self.resources is None:
            self.resources = Resources(self.home, self.clock, Metrics())
            self.registry = lane_work_registry(self.home, self.clock, self.resources.metrics, self.resources)
        return self.resources

    def close_lanes(self) -> None:
        if self.registry is not None:
            self.registry.close()
        self.registry, self.resources, self.lanes = None, None, {}

    def store(self) -> StateStore:
        """A second handle on the state store (close it)."""
        return StateStore.open_home(self.home, self.clock)

    # What Exchange did.

    def journal(self, message_id: str | None = None) -> list[EmailMessage]:
        """Messages that left the organisation (optionally only those with ``message_id``)."""
        parsed = [parse(entry.mime) for entry in self.sim.control.journal()]
        return [m for m in parsed if message_id is None or m["Message-ID"] == message_id]

    def inbox(self, mailbox: str, folder: str = "inbox") -> list[EmailMessage]:
        """Messages in one folder of a mailbox of the organisation."""
        return [parse(view.mime) for view in self.sim.control.messages(mailbox, folder)]
