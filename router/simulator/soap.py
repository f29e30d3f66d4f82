"""SOAP 1.1 envelopes: reading requests and writing responses and faults as Exchange does.

Responses are serialised as bytes by joining a pre-rendered envelope head (with the
ServerVersionInfo header) to the body element, so each response is one lxml ``tostring``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from router.simulator import content_model
from router.simulator.versions import ServerBuild
from router.simulator.xml import E_NS, M_NS, SOAP_NS, T_NS, Element, child, children, local, text_of

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


@dataclass
class Fault(Exception):
    """A request-level error, answered as a SOAP fault (HTTP 500) with ServerVersionInfo."""

    code: str
    message: str
    values: dict[str, str] = field(default_factory=dict)
    status: int = 500

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass
class SoapRequest:
    """A parsed EWS request: the operation element and the SOAP headers that matter."""

    operation: str
    body: Element
    header: Element | None
    version: str | None
    impersonation: tuple[str, str] | None
    time_zone: str | None


def schema_fault(violation: str, line: int = 0, pos: int = 0) -> Fault:
    return Fault(
        "ErrorSchemaValidation",
        f"The request failed schema validation: {violation}",
        {"LineNumber": str(line), "LinePosition": str(pos), "Violation": violation},
    )


def _line(el: Element) -> int:
    line = el.sourceline
    return line if isinstance(line, int) else 0


def parse_request(data: bytes) -> SoapRequest:
    """Parse an EWS request envelope; raise Fault for anything Exchange would reject before dispatch."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, pos = exc.position if isinstance(exc.position, tuple) else (0, 0)
        raise schema_fault(str(exc.msg), int(line), int(pos)) from exc
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise schema_fault(
            f"The root element '{local(root)}' in namespace "
            f"'{etree.QName(root).namespace}' is not a SOAP 1.1 Envelope.",
            _line(root),
        )
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None:
        raise schema_fault("The SOAP envelope has no Body element.", _line(root))
    ops = children(body)
    if len(ops) != 1:
        raise schema_fault("The SOAP Body must contain exactly one request element.", _line(body))
    op = ops[0]
    if etree.QName(op).namespace != M_NS:
        raise Fault(
            "ErrorInvalidRequest",
            f"The request is invalid: the element '{local(op)}' is not in the namespace '{M_NS}'.",
        )
    wrong = content_model.violation(op)
    if wrong is not None:
        raise schema_fault(wrong[0], wrong[1])
    header = root.find(f"{{{SOAP_NS}}}Header")
    return SoapRequest(local(op), op, header, _version(header), _impersonation(header), _time_zone(header))


def _header_child(header: Element | None, name: str) -> Element | None:
    if header is None:
        return None
    found = header.find(f"{{{T_NS}}}{name}")
    return found


def _version(header: Element | None) -> str | None:
    rsv = _header_child(header, "RequestServerVersion")
    return rsv.get("Version") if rsv is not None else None


def _impersonation(header: Element | None) -> tuple[str, str] | None:
    imp = _header_child(header, "ExchangeImpersonation")
    if imp is None:
        return None
    sid = child(imp, "ConnectingSID")
    ids = children(sid)
    if not ids or not (ids[0].text or "").strip():
        raise Fault(
            "ErrorInvalidExchangeImpersonationHeaderData",
            "The ExchangeImpersonation SOAP header must contain a user identity.",
        )
    return local(ids[0]), (ids[0].text or "").strip()


def _time_zone(header: Element | None) -> str | None:
    tzc = _header_child(header, "TimeZoneContext")
    tzd = child(tzc, "TimeZoneDefinition")
    return tzd.get("Id") if tzd is not None else text_of(tzc, "TimeZoneDefinition")


class EnvelopeWriter:
    """Writes response envelopes carrying the configured ServerVersionInfo header."""

    def __init__(self, build: ServerBuild) -> None:
        attrs = " ".join(f'{k}="{v}"' for k, v in build.attributes().items())
        self._head = (
            f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}"><s:Header>'
            f'<h:ServerVersionInfo xmlns:h="{T_NS}" xmlns="{T_NS}" {attrs}/>'
            f"</s:Header><s:Body>"
        ).encode()
        self._tail = b"</s:Body></s:Envelope>"

    def header_element(self) -> Element:
        """The ServerVersionInfo header element this writer puts in every envelope."""
        return etree.fromstring(self._head + self._tail)[0][0]

    def response(self, body: Element) -> bytes:
        return self._head + etree.tostring(body) + self._tail

    def fault(self, fault: Fault) -> bytes:
        return self._head + etree.tostring(fault_element(fault)) + self._tail


def fault_element(fault: Fault) -> Element:
    """The s:Fault element Exchange sends: faultcode in the types namespace, detail with the code."""
    el = etree.Element(f"{{{SOAP_NS}}}Fault", nsmap={"s": SOAP_NS})
    code = etree.SubElement(el, "faultcode", nsmap={"a": T_NS})
    code.text = f"a:{fault.code}"
    fstring = etree.SubElement(el, "faultstring")
    fstring.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    fstring.text = fault.message
    detail = etree.SubElement(el, "detail")
    etree.SubElement(detail, f"{{{E_NS}}}ResponseCode", nsmap={"e": E_NS}).text = fault.code
    etree.SubElement(detail, f"{{{E_NS}}}Message", nsmap={"e": E_NS}).text = fault.message
    if fault.values:
        mx = etree.SubElement(detail, f"{{{T_NS}}}MessageXml", nsmap={"t": T_NS})
        for name, value in fault.values.items():
            v = etree.SubElement(mx, f"{{{T_NS}}}Value", Name=name)
            v.text = value
    return el
