"""One organisation described once, for all three sides: the EWS simulator, the CRM and the profiles.

The demo, the benchmark and the soak each need the same people in three places: mailboxes (with the
service account's rights) in the simulator, users / queues / customers in the embedded CRM, and the
router's profiles and mailbox bindings. ``Organisation`` holds that description and renders each.
Every mailbox is approved in the CRM and routed both ways; the service account holds Full Access on
every mailbox, Send As on the ``send_as`` ones and Send On Behalf on the ``on_behalf`` ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.crm.codes import Approval, FilteringMethod
from router.crm.embedded import EmbeddedCrm, MailboxSettings, admin
from router.crm.gateway import RecordRef

SERVICE = "svc-router@contoso.com"
SERVICE_PASSWORD = "Router-Passw0rd!"
CREDENTIAL = "svc-exchange"
GRAPH_CREDENTIAL = "graph-app"
GRAPH_TENANT = "contoso.onmicrosoft.com"
GRAPH_APP = "55555555-aaaa-4bbb-8ccc-000000000001"
GRAPH_SECRET = "Router-Graph-Secret-1"
"""The app registration a Graph organisation's profiles use (Mail.ReadWrite and Mail.Send, every mailbox)."""
INCOMING_PROFILE, SEND_AS_PROFILE, ON_BEHALF_PROFILE = "sim-incoming", "sim-send-as", "sim-send-on-behalf"
GRAPH_PREFIX = "graph-"
"""The Graph profiles are the same three, named ``graph-sim-incoming`` ..."""
PROCESS_FROM = datetime(2020, 1, 1, tzinfo=UTC)
"""Every binding processes mail received since this date: the harnesses put mail in mailboxes before the
router first looks at them, which the router would otherwise treat as history (its default start is the
moment it first sees a mailbox)."""


@dataclass(frozen=True)
class Person:
    """A mailbox owner: a CRM user or queue, and how the router sends for it."""

    address: str
    name: str
    queue: bool = False
    send: str = "as"
    """``as`` (the service account holds Send As) or ``on_behalf`` (Send On Behalf only)."""
    graph: bool = False
    """The mailbox is in Exchange Online and served over Microsoft Graph (when the home has Graph)."""


@dataclass(frozen=True)
class Customer:
    """An external contact, account or lead known to the CRM."""

    address: str
    name: str
    kind: str = "contact"


@dataclass
class Organisation:
    """People, customers and rights; see the module docstring."""

    people: list[Person]
    customers: list[Customer] = field(default_factory=list)
    filtering: FilteringMethod = FilteringMethod.ALL

    def simulator_seed(self) -> dict[str, Any]:
        """The simulator's seed: the service account and every mailbox with the rights it needs."""
        users: list[dict[str, Any]] = [{"address": SERVICE, "name": "CRM E-mail Router",
                                        "password": SERVICE_PASSWORD, "username": "svc-router"}]
        for p in self.people:
            users.append({"address": p.address, "name": p.name, "full_access": [SERVICE],
                          "send_as": [SERVICE] if p.send == "as" else [],
                          "send_on_behalf": [SERVICE] if p.send == "on_behalf" else []})
        apps = [{"client_id": GRAPH_APP, "client_secret": GRAPH_SECRET, "tenant": GRAPH_TENANT,
                 "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}]
        return {"users": users, "apps": apps}

    def seed_crm(self, crm: EmbeddedCrm) -> dict[str, RecordRef]:
        """Create the users, queues and customers in ``crm``; return each record by address."""
        settings = MailboxSettings(approval=Approval.APPROVED, filtering=self.filtering)
        records: dict[str, RecordRef] = {}
        now = crm.now()
        # One transaction for the whole organisation: thousands of users are seeded in seconds.
        with crm.writing() as conn:
            for i, p in enumerate(self.people):
                records[p.address] = (
                    admin.add_queue(conn, now, name=p.name, address=p.address, settings=settings) if p.queue
                    else admin.add_user(conn, now, fullname=p.name, address=p.address,
                                        domainname=f"CONTOSO\\user{i}", settings=settings))
            for c in self.customers:
                records[c.address] = admin.add_customer(conn, now, c.kind, name=c.name, address=c.address)
        return records

    def profiles(self, ews_url: str, ca_file: Path, settings: dict[str, Any] | None = None, *,
                 read_seconds: float = 30, graph_base: str | None = None,
                 graph_only: bool = False) -> dict[str, Any]:
        """The router's profiles (one TOML document): three profiles, the deployment, the mailboxes.

        ``graph_base`` (the simulator's base URL) adds the same three profiles over Microsoft Graph as
        GRAPH_APP (sending from the service mailbox: Exchange decides Send As / On Behalf), used by the
        people marked ``graph``, or by everyone with ``graph_only``."""
        common: dict[str, Any] = {
            "server_type": "exchange_se", "ews_url": ews_url, "auth": "basic",
            "credentials": "other_specified", "credential": CREDENTIAL, "user_type": "administrator",
            "tls": {"ca_bundle": str(ca_file)},
            "timeouts": {"connect_seconds": 5, "read_seconds": read_seconds}}
        profiles = _three(common, "delegate", {}, "")
        if graph_base is not None:
            online = {k: v for k, v in common.items() if k != "ews_url"}
            online.update(server_type="exchange_online", transport="graph", graph_url=f"{graph_base}/v1.0",
                          auth="oauth", credential=GRAPH_CREDENTIAL,
                          oauth={"tenant_id": GRAPH_TENANT, "client_id": GRAPH_APP,
                                 "token_endpoint": f"{graph_base}/{GRAPH_TENANT}/oauth2/v2.0/token"})
            profiles.update(_three(online, "impersonation", {"service_mailbox": SERVICE}, GRAPH_PREFIX))
        default = GRAPH_PREFIX if graph_only and graph_base is not None else ""
        document: dict[str, Any] = {
            "profiles": profiles,
            "deployments": {"contoso": {"description": "The simulated Contoso organisation",
                                        "default_incoming_profile": default + INCOMING_PROFILE,
                                        "default_outgoing_profile": default + SEND_AS_PROFILE,
                                        "embedded": {}}},
        }
        for kind, queue in (("users", False), ("queues", True)):
            entries = [self._binding(p, GRAPH_PREFIX if (p.graph or graph_only) and graph_base else "")
                       for p in self.people if p.queue is queue]
            if entries:
                document[kind] = entries
        if settings:
            document["settings"] = settings
        return document

    @staticmethod
    def _binding(p: Person, prefix: str) -> dict[str, Any]:
        return {"address": p.address, "deployment": "contoso", "process_from": PROCESS_FROM,
                "incoming_profile": prefix + INCOMING_PROFILE,
                "outgoing_profile": prefix + (SEND_AS_PROFILE if p.send == "as" else ON_BEHALF_PROFILE)}


def _three(common: dict[str, Any], incoming_access: str, sender: dict[str, Any],
           prefix: str) -> dict[str, Any]:
    """The incoming, Send As and Send On Behalf profiles on ``common`` settings, names with ``prefix``."""
    return {
        prefix + INCOMING_PROFILE: {**common, "direction": "incoming", "access_type": incoming_access},
        prefix + SEND_AS_PROFILE: {**common, **sender, "direction": "outgoing", "access_type": "send_as"},
        prefix + ON_BEHALF_PROFILE: {**common, **sender, "direction": "outgoing", "access_type": "delegate"},
    }


def numbered(count: int, *, prefix: str = "user", queue: bool = False) -> list[Person]:
    """``count`` people ``prefix0001@contoso.com`` ...; every other one sends on behalf."""
    return [Person(f"{prefix}{i:04d}@contoso.com", f"{prefix.title()} {i:04d}", queue=queue,
                   send="as" if i % 2 == 0 else "on_behalf") for i in range(count)]
