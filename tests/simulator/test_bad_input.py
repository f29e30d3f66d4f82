"""Bad input is answered as Exchange answers it: faults with ServerVersionInfo, per-item errors in order."""

from __future__ import annotations

import uuid
from pathlib import Path

import requests
from lxml import etree

from router.simulator import Controller, ServerConfig, ids
from router.simulator.validation import SchemaValidator
from tests.simulator.raw import SOAP, M, T, body_of, codes, envelope, post
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, SVC

ITEM = '<t:ItemId Id="{id}"/>'


def _fault(response: requests.Response) -> tuple[str, etree._Element]:
    assert response.status_code == 500, response.text
    root = etree.fromstring(response.content)
    assert root.find(f"{{{SOAP}}}Header/{{{T}}}ServerVersionInfo") is not None
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    return fault.findtext("faultcode") or "", fault


def test_malformed_xml_is_a_schema_validation_fault(ews_simulator: Controller) -> None:
    code, fault = _fault(post(ews_simulator, b"<s:Envelope><unclosed>", user=ALICE))
    assert code == "a:ErrorSchemaValidation"
    assert fault.find(f"detail/{{{T}}}MessageXml/{{{T}}}Value[@Name='LineNumber']") is not None


def test_wrong_envelope_namespace_is_rejected(ews_simulator: Controller) -> None:
    data = envelope("<m:GetFolder/>").replace(SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope")
    assert _fault(post(ews_simulator, data, user=ALICE))[0] == "a:ErrorSchemaValidation"


def test_unknown_operation_and_wrong_namespace_are_invalid_requests(ews_simulator: Controller) -> None:
    assert (
        _fault(post(ews_simulator, envelope("<m:FlyToTheMoon/>"), user=ALICE))[0] == "a:ErrorInvalidRequest"
    )
    wrong = envelope('<GetFolder xmlns="urn:not-ews"/>')
    assert _fault(post(ews_simulator, wrong, user=ALICE))[0] == "a:ErrorInvalidRequest"


def test_unsupported_server_version_is_refused(ews_tls_dir: Path) -> None:
    from router.simulator.versions import ServerBuild

    config = ServerConfig(build=ServerBuild.parse("15.0.1497.2"))
    with Controller(config=config, state_dir=ews_tls_dir) as sim:
        sim.control.seed({"users": [{"address": ALICE, "password": PASSWORD}]})
        response = post(
            sim,
            envelope(
                '<m:ConvertId DestinationFormat="EwsId"><m:SourceIds/></m:ConvertId>', version="Exchange2016"
            ),
            user=ALICE,
        )
        assert _fault(response)[0] == "a:ErrorInvalidServerVersion"


def test_requests_over_the_size_limit(ews_tls_dir: Path) -> None:
    with Controller(config=ServerConfig(max_request_bytes=2000), state_dir=ews_tls_dir) as sim:
        sim.control.seed({"users": [{"address": ALICE, "password": PASSWORD}]})
        big = envelope("<m:GetFolder>" + " " * 5000 + "</m:GetFolder>")
        assert _fault(post(sim, big, user=ALICE))[0] == "a:ErrorMessageSizeExceeded"


def test_unauthenticated_requests_get_a_challenge(ews_simulator: Controller) -> None:
    with requests.Session() as session:
        response = session.post(
            ews_simulator.url.replace("/EWS/Exchange.asmx", "/ews/EXCHANGE.asmx"),
            data=envelope("<m:GetFolder/>"),
            verify=str(ews_simulator.ca_file),
            timeout=10,
        )
        assert response.status_code == 401
        offered = response.headers["WWW-Authenticate"]
        assert "NTLM" in offered and "Basic" in offered and "Bearer" in offered
        assert (
            session.get(ews_simulator.url, verify=str(ews_simulator.ca_file), timeout=10).status_code == 401
        )


def _get_items(sim: Controller, ids: list[str]) -> requests.Response:
    items = "".join(ITEM.format(id=i) for i in ids)
    body = (
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        f"<m:ItemIds>{items}</m:ItemIds></m:GetItem>"
    )
    return post(sim, envelope(body), user=ALICE)


def test_per_item_errors_keep_request_order(ews_simulator: Controller) -> None:
    good = ews_simulator.control.inject(ALICE, subject="a")
    other = ews_simulator.control.inject(BOB, subject="bob's")
    unknown = ids.encode(ids.ObjectId(ids.IdKind.ITEM, uuid.uuid4().bytes))
    response = _get_items(ews_simulator, [good, "garbage!", unknown, other, good])
    assert codes(response) == [
        "NoError",
        "ErrorInvalidIdMalformed",
        "ErrorItemNotFound",
        "ErrorAccessDenied",
        "NoError",
    ]


def test_stale_change_key_conflicts_only_under_never_overwrite(ews_simulator: Controller) -> None:
    item_id = ews_simulator.control.inject(ALICE, subject="x")
    item = ews_simulator.store.item(ids.decode(item_id).uid)
    assert item is not None
    stale = item.change_key

    def update(resolution: str, key: str) -> list[str]:
        body = (
            f'<m:UpdateItem ConflictResolution="{resolution}" MessageDisposition="SaveOnly"><m:ItemChanges>'
            f'<t:ItemChange><t:ItemId Id="{item_id}" ChangeKey="{key}"/><t:Updates><t:SetItemField>'
            '<t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message>'
            "</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"
        )
        return codes(post(ews_simulator, envelope(body), user=ALICE))

    assert update("AutoResolve", stale) == ["NoError"]
    assert update("NeverOverwrite", stale) == ["ErrorIrresolvableConflict"]
    assert update("NeverOverwrite", "bm90IGEga2V5") == ["ErrorInvalidChangeKey"]
    assert update("NeverOverwrite", item.change_key) == ["NoError"]


def test_impersonating_an_unknown_mailbox(ews_simulator: Controller) -> None:
    header = (
        "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>ghost@contoso.com"
        "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
    )
    response = post(ews_simulator, envelope("<m:GetFolder/>", header=header), user=SVC)
    assert _fault(response)[0] == "a:ErrorNonExistentMailbox"


def test_fault_bodies_and_responses_validate(
    requires_ews_schema: etree.XMLSchema, ews_simulator: Controller
) -> None:
    response = _get_items(ews_simulator, ["garbage!"])
    validator = ews_simulator.simulator.validator
    assert isinstance(validator, SchemaValidator) and validator.checked >= 2
    assert body_of(response).tag == f"{{{M}}}GetItemResponse"
