"""The Dynamics Web API adapter against hostile OData servers on 127.0.0.1 (issue #14, case 3):
nested JSON, a looping or foreign ``@odata.nextLink``, a flood and a trickle. Each is a CRM error for
that one call, never a crash, an endless loop or credentials sent to another server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from router.clock import FrozenClock
from router.crm.dynamics import DynamicsGateway, DynamicsSettings, NtlmCredentials
from router.crm.dynamics.client import WebApiClient
from router.errors import CrmError, CrmPermanentError, CrmTransientError
from tests.support.crm import SERVICE_ACCOUNT
from tests.support.hostile import HostileServer, fixed, flood, looping_next_link, nested_json, trickle

API = "/org/api/data/v9.0/"


def settings_for(server: HostileServer, **changes: object) -> DynamicsSettings:
    values: dict[str, object] = {"base_url": server.url + API,
                                 "credentials": NtlmCredentials(SERVICE_ACCOUNT, SecretStr("x")),
                                 "max_retries": 0, **changes}
    return DynamicsSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def serve() -> Iterator[Callable[..., HostileServer]]:
    servers: list[HostileServer] = []

    def start(behaviour: Callable[..., None]) -> HostileServer:
        server = HostileServer(behaviour).__enter__()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize(("status", "fragment"), [(200, "nested too deeply"), (400, "answered 400")])
def test_deeply_nested_json_is_a_crm_error_not_a_crash(serve: Callable[..., HostileServer],
                                                       crm_clock: FrozenClock, status: int,
                                                       fragment: str) -> None:
    server = serve(fixed(nested_json(200_000), status=status, content_type="application/json"))
    gateway = DynamicsGateway(settings_for(server), clock=crm_clock)
    try:
        with pytest.raises(CrmPermanentError, match=fragment) as caught:
            gateway.who_am_i()
    finally:
        gateway.close()
    assert len(str(caught.value)) < 8192


def test_a_looping_next_link_is_refused_after_one_repeat(serve: Callable[..., HostileServer],
                                                         crm_clock: FrozenClock) -> None:
    holder: dict[str, HostileServer] = {}
    server = serve(looping_next_link(lambda: holder["server"].url, API + "mailboxes?$skiptoken=1"))
    holder["server"] = server
    client = WebApiClient(settings_for(server), crm_clock)
    try:
        with pytest.raises(CrmPermanentError, match="loops back"):
            client.get_all("mailboxes")
    finally:
        client.close()
    assert len(server.requests) == 2


def test_pages_are_bounded(serve: Callable[..., HostileServer], crm_clock: FrozenClock) -> None:
    def endless(handler: object) -> None:
        count = len(holder["server"].requests)
        page = {"value": [{"n": count}],
                "@odata.nextLink": f"{holder['server'].url}{API}mailboxes?$skiptoken={count}"}
        fixed(json.dumps(page).encode(), content_type="application/json")(handler)  # type: ignore[arg-type]
    holder: dict[str, HostileServer] = {}
    server = holder["server"] = serve(endless)
    client = WebApiClient(settings_for(server, max_pages=25), crm_clock)
    try:
        with pytest.raises(CrmPermanentError, match="past 25 pages"):
            client.get_all("mailboxes")
    finally:
        client.close()
    assert len(server.requests) == 25


@pytest.mark.parametrize("foreign", ["other-port", "other-host"])
def test_a_next_link_to_another_origin_is_not_followed(serve: Callable[..., HostileServer],
                                                       crm_clock: FrozenClock, foreign: str) -> None:
    thief = serve(fixed(b'{"value": []}', content_type="application/json"))
    target = thief.url if foreign == "other-port" else thief.url.replace("http://127.0.0.1", "http://localhost")
    server = serve(fixed(json.dumps({"value": [{"n": 1}],
                                     "@odata.nextLink": f"{target}{API}mailboxes?$skiptoken=2"}).encode(),
                         content_type="application/json"))
    client = WebApiClient(settings_for(server), crm_clock)
    try:
        with pytest.raises(CrmPermanentError, match="another server") as caught:
            client.get_all("mailboxes")
    finally:
        client.close()
    assert thief.requests == [] and "credentials" in caught.value.hint


def test_an_oversized_answer_is_cut_off(serve: Callable[..., HostileServer], crm_clock: FrozenClock) -> None:
    total = 100 * 1024 * 1024
    server = serve(flood(total, status=500, content_type="application/json"))
    gateway = DynamicsGateway(settings_for(server, max_response_bytes=1024 * 1024), clock=crm_clock)
    try:
        with pytest.raises(CrmTransientError, match="cap") as caught:
            gateway.who_am_i()
    finally:
        gateway.close()
    assert len(str(caught.value)) < 8192 and server.sent < total // 4


def test_a_trickling_crm_is_cut_off_at_the_total_deadline(serve: Callable[..., HostileServer],
                                                          crm_clock: FrozenClock) -> None:
    server = serve(trickle(interval=0.3))
    gateway = DynamicsGateway(settings_for(server, timeout=1.0, connect_timeout=1.0), clock=crm_clock)
    try:
        with pytest.raises(CrmError, match="total deadline of 2 s"):
            gateway.who_am_i()
    finally:
        gateway.close()
