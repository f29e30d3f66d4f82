"""The simulator's Microsoft Graph face, spoken to with plain HTTPS requests (no router code)."""

from __future__ import annotations

import base64
import json
import threading
from email import message_from_bytes
from email.message import EmailMessage

import pytest
import requests
from exchangelib import Message
from exchangelib.protocol import BaseProtocol, close_connections

from router.simulator import Controller
from tests.support.ews_simulator import make_account, simulator_adapter
from tests.support.graph_simulator import (
    ALICE,
    APP,
    BOB,
    CAROL,
    CERT_APP,
    DAVE,
    GRAPH_SCOPE,
    READONLY,
    SVC,
    SVC_PASSWORD,
    app_token,
    graph_sim,
    graph_tls_dir,
    sim_session,
)

__all__ = ["graph_sim", "graph_tls_dir"]


class Graph:
    """Raw Graph calls with one app token."""

    def __init__(self, sim: Controller, token: str | None = None) -> None:
        self.sim = sim
        self.session = sim_session(sim)
        self.token = token if token is not None else app_token(sim)

    def __call__(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = path if path.startswith("https://") else self.sim.graph_url + path
        return self.session.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]


def _mime(from_: str, to: str, subject: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = from_, to, subject, message_id
    msg.set_content("body")
    return msg.as_bytes()


def _send(graph: Graph, mailbox: str, mime: bytes) -> requests.Response:
    return graph(
        "POST",
        f"/users/{mailbox}/sendMail",
        data=base64.b64encode(mime),
        headers={"Content-Type": "text/plain"},
    )


def test_missing_bad_or_ews_tokens_get_graphs_json_401(graph_sim: Controller) -> None:
    ews_token = app_token(graph_sim, scope="https://outlook.office365.com/.default")
    for token in ("", "not-a-token", ews_token):
        response = Graph(graph_sim, token)("GET", f"/users/{SVC}/mailFolders/inbox")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert "message" in response.json()["error"]


def test_delta_pages_select_and_links_then_410_for_a_garbled_token(graph_sim: Controller) -> None:
    for n in range(5):
        graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject=f"m{n}")
    graph = Graph(graph_sim)
    url = f"/users/{SVC}/mailFolders('inbox')/messages/delta?$select=subject,isRead"
    subjects: list[str] = []
    pages = 0
    while True:
        response = graph("GET", url, headers={"Prefer": "odata.maxpagesize=2"})
        assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
        data = response.json()
        pages += 1
        assert all(set(v) == {"@odata.type", "id", "subject", "isRead"} for v in data["value"])
        subjects += [v["subject"] for v in data["value"]]
        if "@odata.nextLink" not in data:
            delta_link = data["@odata.deltaLink"]
            break
        url = data["@odata.nextLink"]
    assert pages == 3 and subjects == [f"m{n}" for n in range(5)]
    assert graph("GET", delta_link).json()["value"] == []
    graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject="late")
    assert [v["subject"] for v in graph("GET", delta_link).json()["value"]] == ["late"]
    gone = graph("GET", delta_link.replace("deltatoken=", "deltatoken=x"))
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"


def test_batch_steps_depending_on_a_failed_one_are_not_run_but_answered_424(graph_sim: Controller) -> None:
    graph = Graph(graph_sim)
    graph_sim.config.max_message_bytes = 5_000

    def step(n: int, body: str = "body", depends: str | None = None) -> dict[str, object]:
        mime = _mime(ALICE, CAROL, f"b{n}", f"<b{n}@contoso.com>").replace(b"body", body.encode())
        out: dict[str, object] = {"id": str(n), "method": "POST", "url": f"/users/{ALICE}/sendMail",
                                  "headers": {"Content-Type": "text/plain"},
                                  "body": base64.b64encode(mime).decode()}
        return out | ({"dependsOn": [depends]} if depends else {})

    steps = [step(0), step(1, "x" * 9_000), step(2, depends="1"), step(3, depends="0")]
    answers = graph("POST", "/$batch", json={"requests": steps}).json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("0", 202), ("1", 413), ("2", 424), ("3", 202)]
    assert answers[2]["body"]["error"]["code"] == "FailedDependency"
    assert sorted(m.subject for m in graph_sim.control.messages(ALICE, "sentitems")) == ["b0", "b3"]
    later = graph("POST", "/$batch", json={"requests": [step(5, depends="4"), step(4)]})
    assert later.status_code == 400, "a step may depend only on one before it"


def test_batch_value_patch_and_move_as_the_router_acknowledges(graph_sim: Controller) -> None:
    ids = [graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject=f"s{n}") for n in range(2)]
    assert ids
    graph = Graph(graph_sim)
    link = f"/users/{SVC}/mailFolders/inbox/messages/delta"
    first = graph("GET", link).json()
    mids = [v["id"] for v in first["value"]]
    steps = [
        {"id": str(n), "method": "GET", "url": f"/users/{SVC}/messages/{m}/$value"}
        for n, m in enumerate(mids)
    ]
    answers = graph("POST", "/$batch", json={"requests": steps}).json()["responses"]
    assert [base64.b64decode(a["body"]).count(b"Subject: s") for a in answers] == [1, 1]
    assert graph("POST", "/$batch", json={"requests": steps * 11}).status_code == 400
    patched = graph("PATCH", f"/users/{SVC}/messages/{mids[0]}", json={"categories": ["CRM"], "isRead": True})
    assert patched.json()["categories"] == ["CRM"] and patched.json()["isRead"] is True
    moved = graph("POST", f"/users/{SVC}/messages/{mids[1]}/move", json={"destinationId": "deleteditems"})
    assert moved.status_code == 201 and moved.json()["id"] != mids[1]
    later = graph("GET", first["@odata.deltaLink"]).json()["value"]
    assert {v["id"]: "@removed" in v for v in later} == {mids[0]: False, mids[1]: True}
    views = graph_sim.control.messages(SVC)
    assert [(v.subject, v.categories, v.is_read) for v in views] == [("s0", ["CRM"], True)]


def test_permissions_and_application_access_policy(graph_sim: Controller) -> None:
    graph = Graph(graph_sim)
    denied = graph("GET", f"/users/{DAVE}/mailFolders/inbox")
    assert denied.status_code == 403 and "AccessPolicy" in denied.json()["error"]["message"]
    readonly = Graph(graph_sim, app_token(graph_sim, READONLY, "ro-secret"))
    assert readonly("GET", f"/users/{DAVE}/mailFolders/inbox").status_code == 200
    refused = _send(readonly, SVC, _mime(SVC, "x@fabrikam.com", "s", "<ro@x>"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ErrorAccessDenied"
    unknown = graph("GET", "/users/nobody@contoso.com/mailFolders/inbox")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ErrorInvalidUser"


def test_send_as_on_behalf_denied_and_own_mailbox_as_exchange_decides(graph_sim: Controller) -> None:
    graph = Graph(graph_sim)
    cases = [(SVC, ALICE, "<as@x>"), (SVC, BOB, "<behalf@x>"), (CAROL, CAROL, "<own@x>")]
    for mailbox, sender, mid in cases:
        assert _send(graph, mailbox, _mime(sender, "z@fabrikam.com", "hi", mid)).status_code == 202
    denied = _send(graph, SVC, _mime(CAROL, "z@fabrikam.com", "hi", "<denied@x>"))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorSendAsDenied"
    journal = {m["Message-ID"]: m for m in (message_from_bytes(e.mime) for e in graph_sim.control.journal())}
    assert set(journal) == {"<as@x>", "<behalf@x>", "<own@x>"}
    assert journal["<as@x>"]["Sender"] is None and journal["<as@x>"]["From"] == "Alice <alice@contoso.com>"
    assert journal["<behalf@x>"]["Sender"] == "CRM Service <crm.service@contoso.com>"
    assert journal["<behalf@x>"]["From"] == "Bob <bob@contoso.com>"
    assert journal["<own@x>"]["Sender"] is None
    found = graph(
        "GET",
        f"/users/{SVC}/mailFolders/sentitems/messages",
        params={"$filter": "internetMessageId eq '<behalf@x>'", "$select": "internetMessageId"},
    ).json()["value"]
    assert [f["internetMessageId"] for f in found] == ["<behalf@x>"]


def test_create_from_mime_then_send_lands_in_sent_items_and_journal(graph_sim: Controller) -> None:
    graph = Graph(graph_sim)
    mime = base64.b64encode(_mime(SVC, f"z@fabrikam.com, {CAROL}", "draft", "<draft@x>"))
    draft = graph("POST", f"/users/{SVC}/messages", data=mime, headers={"Content-Type": "text/plain"})
    assert draft.status_code == 201 and draft.json()["isDraft"] is True
    assert graph("POST", f"/users/{SVC}/messages/{draft.json()['id']}/send").status_code == 202
    assert [v.subject for v in graph_sim.control.messages(SVC, "sentitems")] == ["draft"]
    assert [v.subject for v in graph_sim.control.messages(CAROL)] == ["draft"]
    assert [e.recipients for e in graph_sim.control.journal()] == [("z@fabrikam.com",)]


def test_server_busy_fault_is_a_429_with_retry_after(graph_sim: Controller) -> None:
    graph_sim.control.fault("server_busy", "graph.folder", back_off_ms=2500)
    graph = Graph(graph_sim)
    busy = graph("GET", f"/users/{SVC}/mailFolders/inbox")
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "3"
    assert graph("GET", f"/users/{SVC}/mailFolders/inbox").status_code == 200


def test_a_fifth_concurrent_request_on_one_mailbox_is_throttled(graph_sim: Controller) -> None:
    graph_sim.control.fault("slow", "graph.folder", count=6, delay_seconds=1.0)
    token = app_token(graph_sim)
    statuses: list[int] = []

    def call() -> None:
        statuses.append(Graph(graph_sim, token)("GET", f"/users/{SVC}/mailFolders/inbox").status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 200, 429, 429]
    assert graph_sim.simulator.graph.peak[SVC] == 4
    codes = {r.code for r in graph_sim.simulator.graph.log if r.status == 429}
    assert codes == {"ApplicationThrottled"}


def test_both_faces_share_mailboxes_and_journal(
    graph_sim: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", simulator_adapter(graph_sim.ca_file))
    account = make_account(graph_sim, SVC, password=SVC_PASSWORD)
    graph_sim.control.inject(SVC, from_="a@fabrikam.com", subject="seen twice", message_id="<twice@x>")
    try:
        assert [m.message_id for m in account.inbox.all().only("message_id")] == ["<twice@x>"]
        graph = Graph(graph_sim)
        delta = graph("GET", f"/users/{SVC}/mailFolders/inbox/messages/delta").json()["value"]
        assert [v["internetMessageId"] for v in delta] == ["<twice@x>"]
        Message(
            account=account,
            folder=account.sent,
            mime_content=_mime(SVC, "z@fabrikam.com", "ews", "<e@x>"),
        ).send_and_save()
        assert _send(graph, SVC, _mime(SVC, "z@fabrikam.com", "graph", "<g@x>")).status_code == 202
    finally:
        close_connections()
    assert [message_from_bytes(e.mime)["Message-ID"] for e in graph_sim.control.journal()] == [
        "<e@x>",
        "<g@x>",
    ]
    sent = graph("GET", f"/users/{SVC}/mailFolders/sentitems/messages").json()["value"]
    assert sorted(v["internetMessageId"] for v in sent) == ["<e@x>", "<g@x>"]


def test_the_control_api_issues_graph_tokens_and_lists_graph_requests(graph_sim: Controller) -> None:
    http = graph_sim.simulator.control_http
    status, data = http.handle(
        "POST", "/_control/token", json.dumps({"client_id": APP, "scope": GRAPH_SCOPE}).encode()
    )
    assert status == 200
    assert Graph(graph_sim, data["access_token"])("GET", f"/users/{SVC}/mailFolders/inbox").status_code == 200
    status, records = http.handle("GET", "/_control/graph-requests", b"")
    assert status == 200 and records == [
        {"operation": "graph.folder", "app": APP, "mailbox": SVC, "status": 200, "code": ""}
    ]


def test_the_concurrency_limit_is_per_app(graph_sim: Controller) -> None:
    graph_sim.control.fault("slow", "graph.folder", count=5, delay_seconds=1.0)
    tokens = [app_token(graph_sim)] * 4 + [graph_sim.control.token(client_id=CERT_APP, scope=GRAPH_SCOPE)]
    statuses: list[int] = []

    def call(token: str) -> None:
        statuses.append(Graph(graph_sim, token)("GET", f"/users/{SVC}/mailFolders/inbox").status_code)

    threads = [threading.Thread(target=call, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 5
