"""The facade's ``$metadata`` against a subset of the real v9.0 CSDL (``data/dynamics-v9-csdl-subset.xml``).

The subset is written from the declarations the reference records (dynamics-webapi.md §4.1, §4.9,
§5.1). Every type, term and operation it declares must be in the facade's document with the attributes
it gives, members and properties included; an entity type declared without a key inherits it, so the
facade's must have none either. Properties no real v9.0 document declares must be absent, from the
document and from what the facade serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree
from requests_ntlm import HttpNtlmAuth

from router.crm.facade import CrmFacade
from router.crm.facade.metadata import metadata_document
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, Organisation

EDM = "http://docs.oasis-open.org/odata/ns/edm"
NS = {"e": EDM}
SUBSET = Path(__file__).parent / "data" / "dynamics-v9-csdl-subset.xml"
DECLARATIONS = ("EntityType", "ComplexType", "EnumType", "Term", "Function", "Action")
NOT_ON_THE_REAL_SERVICE = {
    "organization": {"businessunitid"},
    "activityparty": {"createdon", "modifiedon"},
    "activitymimeattachment": {"createdon", "modifiedon"},
    "email": {"regardingobjectid_systemuser_email", "regardingobjectid_queue_email",
              "regardingobjectid_email_email", "_acceptingentityid_value", "_receivingmailboxid_value",
              "_correlatedactivityid_value", "acceptingentityid", "receivingmailboxid",
              "correlatedactivityid"},
}


def _schema(document: bytes) -> etree._Element:
    schema = etree.fromstring(document).find(".//e:Schema", NS)
    assert schema is not None
    return schema


def _declared(schema: etree._Element, kind: str, name: str) -> etree._Element:
    [found] = schema.findall(f"e:{kind}[@Name='{name}']", NS) or [None]
    assert found is not None, f"the facade's $metadata declares no {kind} {name}"
    return found


def _children(element: etree._Element) -> dict[tuple[str, str], etree._Element]:
    return {(etree.QName(c).localname, c.get("Name") or c.get("Type") or ""): c for c in element
            if isinstance(c.tag, str) and etree.QName(c).localname != "Key"}


def _key(element: etree._Element) -> list[str]:
    return [ref.get("Name", "") for ref in element.findall("e:Key/e:PropertyRef", NS)]


def _pairs() -> Iterator[tuple[str, str, etree._Element]]:
    for kind in DECLARATIONS:
        for element in _schema(SUBSET.read_bytes()).findall(f"e:{kind}", NS):
            yield kind, element.get("Name", ""), element


@pytest.mark.parametrize(("kind", "name", "real"), [pytest.param(*p, id=f"{p[0]}-{p[1]}") for p in _pairs()])
def test_the_facade_declares_what_the_real_service_declares(kind: str, name: str,
                                                             real: etree._Element) -> None:
    ours = _declared(_schema(metadata_document()), kind, name)
    for attribute, value in real.attrib.items():
        assert ours.get(attribute) == value, f"{kind} {name}: {attribute}"
    if kind == "EntityType":
        assert _key(ours) == _key(real), f"{name}'s key (none: inherited from its base type)"
    mine = _children(ours)
    for key, child in _children(real).items():
        assert key in mine, f"{kind} {name} lacks {key[0]} {key[1]}"
        for attribute, value in child.attrib.items():
            assert mine[key].get(attribute) == value, f"{kind} {name}, {key[1]}: {attribute}"
        if key[0] == "Parameter" and "Nullable" not in child.attrib:
            assert mine[key].get("Nullable") in (None, "true"), f"{name}({key[1]}) is nullable"


def test_every_versionnumber_is_int64_and_no_type_declares_what_the_real_one_lacks() -> None:
    schema = _schema(metadata_document())
    versions = schema.findall("e:EntityType/e:Property[@Name='versionnumber']", NS)
    assert versions and {v.get("Type") for v in versions} == {"Edm.Int64"}
    for entity, absent in NOT_ON_THE_REAL_SERVICE.items():
        declared = set(_children(_declared(schema, "EntityType", entity)))
        assert not {name for _, name in declared} & absent, entity


def test_every_entity_type_derives_from_crmbaseentity() -> None:
    schema = _schema(metadata_document())
    bases = {t.get("Name"): t.get("BaseType") for t in schema.findall("e:EntityType", NS)}
    for name in bases:
        chain, current = [], name
        while bases.get(current):
            current = str(bases[current]).removeprefix("mscrm.")
            chain.append(current)
        assert name == "crmbaseentity" or chain[-1:] == ["crmbaseentity"], (name, chain)


@pytest.fixture
def api(crm_facade: CrmFacade) -> Iterator[tuple[requests.Session, str]]:
    with requests.Session() as session:
        session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
        session.headers.update({"Accept": "application/json"})
        yield session, crm_facade.api_url("9.0", "contoso")


def test_the_facade_serves_no_property_the_real_service_lacks(api: tuple[requests.Session, str],
                                                              crm_org: Organisation) -> None:
    session, base = api
    [organization] = session.get(base + "organizations").json()["value"]
    assert "businessunitid" not in organization
    assert session.get(base + "$metadata").content == metadata_document()
    refused = session.post(base + "emails", json={
        "subject": "x", "regardingobjectid_systemuser_email@odata.bind": f"/systemusers({crm_org.alice.id})"})
    assert refused.status_code == 400
