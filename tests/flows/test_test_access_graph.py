"""`email-router test-access` on Microsoft Graph profiles, against the simulator's Graph face.

The incoming check gets a token for the app and opens the Inbox; the outgoing check opens the sending
mailbox's Sent Items and, for a profile that sends from a service mailbox, finds by a probe through
Graph the right Exchange really gives that mailbox on the user. The probe leaves nothing behind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from router.cli.main import cli
from router.graph.send_right import PROBE_SUBJECT
from router.service.probe import PROBE_SUBJECT as ROUND_TRIP_SUBJECT
from router.vault import Vault
from router.vault.credentials import OAuthClientSecretCredential
from tests.flows.kit import Contoso
from tests.support.ews_simulator import ALICE, BOB, QUEUE, SVC

pytestmark = pytest.mark.flow

TENANT = "contoso.onmicrosoft.com"
APP, SECRET = "44444444-aaaa-4bbb-8ccc-000000000001", "access-graph-secret-9Zp"
PROBE_SUBJECTS = (PROBE_SUBJECT, ROUND_TRIP_SUBJECT)


def graph_profiles(org: Contoso) -> str:
    """An incoming Graph profile and three outgoing ones: from the service mailbox expecting Send As,
    expecting Send On Behalf, and from the user's own mailbox."""
    token = f"{org.sim.base_url}/{TENANT}/oauth2/v2.0/token"
    common = (f'server_type = "exchange_online"\ntransport = "graph"\ngraph_url = "{org.sim.graph_url}"\n'
              'auth = "oauth"\ncredentials = "other_specified"\ncredential = "graph"\n'
              f'user_type = "administrator"\ntls = {{ ca_bundle = "{org.sim.ca_file}" }}\n'
              f'oauth = {{ tenant_id = "{TENANT}", client_id = "{APP}", token_endpoint = "{token}" }}\n')
    return (f'[profiles.graph_in]\ndirection = "incoming"\naccess_type = "impersonation"\n{common}\n'
            f'[profiles.graph_as]\ndirection = "outgoing"\naccess_type = "send_as"\n'
            f'service_mailbox = "{SVC}"\n{common}\n'
            f'[profiles.graph_behalf]\ndirection = "outgoing"\naccess_type = "delegate"\n'
            f'service_mailbox = "{SVC}"\n{common}\n'
            f'[profiles.graph_own]\ndirection = "outgoing"\naccess_type = "impersonation"\n{common}\n')


@pytest.fixture
def graph(contoso: Contoso) -> Contoso:
    """Alice: Send As for the service mailbox; Bob: Send On Behalf while his profile expects Send As; the
    queue sends from its own mailbox (no right needed). Every direction over Graph."""
    sim = contoso.sim
    sim.control.seed({"apps": [{"client_id": APP, "client_secret": SECRET, "tenant": TENANT,
                                "graph_permissions": ["Mail.ReadWrite", "Mail.Send"]}]})
    Vault.open(contoso.home).set("graph", OAuthClientSecretCredential(client_secret=SecretStr(SECRET)))
    sim.control.grant("send_as", ALICE, SVC)
    sim.control.grant("send_on_behalf", BOB, SVC)
    contoso.directory.mkdir(parents=True, exist_ok=True)
    (contoso.directory / "graph.toml").write_text(graph_profiles(contoso))
    contoso.publish(f'[[users]]\naddress = "{ALICE}"\nincoming_profile = "graph_in"\n'
                    'outgoing_profile = "graph_as"\n\n'
                    f'[[users]]\naddress = "{BOB}"\nincoming_profile = "graph_in"\n'
                    'outgoing_profile = "graph_as"\n\n'
                    f'[[queues]]\naddress = "{QUEUE}"\nincoming_profile = "graph_in"\n'
                    'outgoing_profile = "graph_own"\n')
    return contoso


def invoke(org: Contoso, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(org.home.root), "test-access", *args])


def test_test_access_over_graph_finds_the_right_actually_held(graph: Contoso) -> None:
    result = invoke(graph, "--json", "--mailbox", ALICE, "--mailbox", BOB, "--mailbox", QUEUE)
    assert result.exit_code == 6, result.output
    found: dict[str, dict[str, Any]] = {e["mailbox"]: e for e in json.loads(result.stdout)}
    summary = {m: (e["incoming"]["status"], e["outgoing"]["status"], e["outgoing"]["right"],
                   e["outgoing"]["expected"]) for m, e in found.items()}
    assert summary == {
        ALICE: ("Success", "Success", "send_as", "send_as"),
        BOB: ("Success", "Failure", "send_on_behalf", "send_as"),
        QUEUE: ("Success", "Success", None, None),
    }
    assert "signed in to Microsoft Graph as app" in found[ALICE]["incoming"]["message"]
    assert f"the profile says send_as, but {SVC} holds only Send On Behalf on {BOB}" \
        in found[BOB]["outgoing"]["message"]
    own = "sends from the user's own mailbox, so no send right is needed"
    assert own in found[QUEUE]["outgoing"]["message"]
    for mailbox in (ALICE, BOB, QUEUE, SVC):
        copies = [m for folder in ("inbox", "sent items", "drafts")
                  for m in graph.sim.control.messages(mailbox, folder)]
        assert [m for m in copies if m.subject.startswith(PROBE_SUBJECT)] == [], mailbox


def test_a_mailbox_outside_the_apps_access_policy_fails_with_what_to_do(graph: Contoso) -> None:
    graph.sim.control.seed({"apps": [{"client_id": APP, "client_secret": SECRET, "tenant": TENANT,
                                      "graph_permissions": ["Mail.ReadWrite", "Mail.Send"],
                                      "graph_mailboxes": [BOB]}]})
    result = invoke(graph, "--json", "--mailbox", ALICE, "--no-record")
    assert result.exit_code == 6, result.output
    [alice] = json.loads(result.stdout)
    assert alice["incoming"]["status"] == "Failure" and alice["outgoing"]["status"] == "Failure"
    assert "ErrorAccessDenied" in alice["incoming"]["message"]
    assert "application access policy" in alice["incoming"]["hint"]


def test_the_probe_round_trip_over_graph_arrives_and_leaves_nothing_behind(graph: Contoso) -> None:
    result = invoke(graph, "--json", "--probe", "--probe-timeout", "20", "--no-record",
                    "--mailbox", ALICE, "--mailbox", QUEUE, "--mailbox", BOB)
    found: dict[str, dict[str, Any]] = {e["mailbox"]: e for e in json.loads(result.stdout)}
    # Alice: sent from the service mailbox with From = Alice, Exchange used her Send As grant.
    # The queue: sent from its own mailbox. Bob's outgoing check fails, so his probe is not sent.
    for mailbox in (ALICE, QUEUE):
        probe = found[mailbox]["probe"]
        assert probe is not None and (probe["arrived"], probe["right"]) == (True, "send_as"), found[mailbox]
        assert found[mailbox]["probe_note"].startswith("arrived in the Inbox after")
    assert found[BOB]["probe"] is None
    assert found[BOB]["probe_note"] == "skipped: the probe needs both directions to pass"
    probes = [r for r in graph.sim.control.graph_requests() if r.operation == "graph.sendMail"]
    assert {r.mailbox for r in probes} >= {SVC, QUEUE}
    for mailbox in (ALICE, BOB, QUEUE, SVC):
        copies = [m for folder in ("inbox", "sent items", "drafts")
                  for m in graph.sim.control.messages(mailbox, folder)]
        assert [m.subject for m in copies if m.subject.startswith(PROBE_SUBJECTS)] == [], mailbox
