"""``$metadata``: a CSDL document for the facade's entity sets and the e-mail messages.

The message declarations (parameters, nullability, bindings, response complex types) follow the real
Dynamics 365 v9.0 ``$metadata`` quoted in the reference notes, so an OData client generated from this
document calls the facade and a real CRM the same way.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from sqlalchemy import Boolean, Integer

from router.crm.embedded.schema import UtcDateTime
from router.crm.facade import metadata_types as types
from router.crm.facade.entities import ENTITY_SETS, EntitySet

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
NS = "Microsoft.Dynamics.CRM"
# lxml accepts None as the default-namespace prefix; its stubs only allow str keys.
_DEFAULT_NS: Any = {None: EDM}

#: (name, bound to, parameters as (name, type, nullable), return type, is function)
_OPERATIONS: tuple[tuple[str, str | None, tuple[tuple[str, str, bool], ...], str, bool], ...] = (
    (
        "CheckIncomingEmail",
        None,
        (
            ("MessageId", "Edm.String", False),
            ("Subject", "Edm.String", True),
            ("From", "Edm.String", False),
            ("To", "Edm.String", False),
            ("Cc", "Edm.String", False),
            ("Bcc", "Edm.String", False),
            ("ExtraProperties", "mscrm.email", True),
        ),
        "mscrm.CheckIncomingEmailResponse",
        True,
    ),
    ("WhoAmI", None, (), "mscrm.WhoAmIResponse", True),
    (
        "DeliverIncomingEmail",
        "Collection(mscrm.email)",
        (
            ("MessageId", "Edm.String", False),
            ("Subject", "Edm.String", True),
            ("From", "Edm.String", False),
            ("To", "Edm.String", False),
            ("Cc", "Edm.String", False),
            ("Bcc", "Edm.String", False),
            ("ReceivedOn", "Edm.DateTimeOffset", False),
            ("SubmittedBy", "Edm.String", False),
            ("Importance", "Edm.String", False),
            ("Body", "Edm.String", False),
            ("Attachments", "Collection(mscrm.activitymimeattachment)", False),
            ("ExtraProperties", "mscrm.crmbaseentity", True),
            ("ValidateBeforeCreate", "Edm.Boolean", True),
        ),
        "mscrm.email",
        False,
    ),
    (
        "BackgroundSendEmail",
        None,
        (("Query", "mscrm.QueryBase", True),),
        "mscrm.BackgroundSendEmailResponse",
        False,
    ),
    (
        "SendEmail",
        "mscrm.email",
        (("IssueSend", "Edm.Boolean", False), ("TrackingToken", "Edm.String", True)),
        "mscrm.SendEmailResponse",
        False,
    ),
    (
        "GetTrackingTokenEmail",
        None,
        (("Subject", "Edm.String", True),),
        "mscrm.GetTrackingTokenEmailResponse",
        False,
    ),
)

_COMPLEX = (
    ("CheckIncomingEmailResponse", (("ShouldDeliver", "Edm.Boolean"), ("ReasonCode", "Edm.Int32"))),
    ("SendEmailResponse", (("Subject", "Edm.String"),)),
    ("GetTrackingTokenEmailResponse", (("TrackingToken", "Edm.String"),)),
    (
        "WhoAmIResponse",
        (("BusinessUnitId", "Edm.Guid"), ("UserId", "Edm.Guid"), ("OrganizationId", "Edm.Guid")),
    ),
    ("BackgroundSendEmailResponse", (("HasAttachments", "Collection(Edm.Boolean)"),)),
)


def _edm_type(entity_set: EntitySet, column: str) -> str:
    if column == "versionnumber":
        return "Edm.Int64"
    if column == "applicationid":
        return "Edm.Guid"
    kind = entity_set.table.c[column].type
    if isinstance(kind, Boolean):
        return "Edm.Boolean"
    if isinstance(kind, Integer):
        return "Edm.Int32"
    if isinstance(kind, UtcDateTime):
        return "Edm.DateTimeOffset"
    return "Edm.Guid" if column == entity_set.key else "Edm.String"


def _declare(schema: etree._Element, name: str, base: str | None, key: str | None,
             abstract: bool = False) -> etree._Element:
    node = etree.SubElement(schema, f"{{{EDM}}}EntityType", Name=name)
    if base is not None:
        node.set("BaseType", f"mscrm.{base}")
    if abstract:
        node.set("Abstract", "true")
    if key is not None:
        etree.SubElement(etree.SubElement(node, f"{{{EDM}}}Key"), f"{{{EDM}}}PropertyRef", Name=key)
    return node


def _base_types(schema: etree._Element) -> None:
    """The abstract roots, and ``activitypointer`` with the activity columns ``email`` inherits."""
    for name, (base, key) in types.ABSTRACT_TYPES.items():
        node = _declare(schema, name, base, key, abstract=True)
        if key is not None:
            etree.SubElement(node, f"{{{EDM}}}Property", Name=key, Type="Edm.Guid")
    emails = next(s for s in ENTITY_SETS if s.logical_name == "email")
    node = _declare(schema, "activitypointer", "crmbaseentity", types.ACTIVITY_KEY)
    for column in (c for c in types.ACTIVITY_COLUMNS if c in emails.plain_columns()):
        etree.SubElement(node, f"{{{EDM}}}Property", Name=column, Type=_edm_type(emails, column))


def _entity_type(schema: etree._Element, entity_set: EntitySet) -> None:
    base = types.BASE_TYPE.get(entity_set.logical_name)
    node = _declare(schema, entity_set.logical_name, base or "crmbaseentity",
                    None if base else entity_set.key)
    inherited = types.ACTIVITY_COLUMNS if base == "activitypointer" else ()
    for column in (c for c in entity_set.plain_columns() if c not in inherited):
        etree.SubElement(node, f"{{{EDM}}}Property", Name=column, Type=_edm_type(entity_set, column))
    for lookup in entity_set.lookups:
        etree.SubElement(node, f"{{{EDM}}}Property", Name=lookup.read_name, Type="Edm.Guid")
        for navigation, target in lookup.navigations.items():
            declared = types.NAVIGATION_TYPES.get(navigation, target)
            etree.SubElement(node, f"{{{EDM}}}NavigationProperty", Name=navigation, Type=f"mscrm.{declared}")
    for navigation, collection in entity_set.collections.items():
        members = next(s for s in ENTITY_SETS if s.name == collection.entity_set)
        etree.SubElement(
            node,
            f"{{{EDM}}}NavigationProperty",
            Name=navigation,
            Type=f"Collection(mscrm.{members.logical_name})",
        )


def _operation(
    schema: etree._Element, spec: tuple[str, str | None, tuple[tuple[str, str, bool], ...], str, bool]
) -> None:
    name, bound, parameters, returns, is_function = spec
    node = etree.SubElement(
        schema,
        f"{{{EDM}}}{'Function' if is_function else 'Action'}",
        Name=name,
        IsBound="true" if bound else "false",
    )
    if bound:
        etree.SubElement(
            node,
            f"{{{EDM}}}Parameter",
            Name="entityset" if "Collection" in bound else "entity",
            Type=bound,
            Nullable="false",
        )
    for parameter, edm_type, nullable in parameters:
        element = etree.SubElement(node, f"{{{EDM}}}Parameter", Name=parameter, Type=edm_type)
        if not nullable:
            element.set("Nullable", "false")
        if parameter == "Subject" and is_function:
            etree.SubElement(element, f"{{{EDM}}}Annotation", Term="Org.OData.Core.V1.OptionalParameter")
    etree.SubElement(node, f"{{{EDM}}}ReturnType", Type=returns, Nullable="false")


def _query_types(schema: etree._Element) -> None:
    """The query complex types, their enums and the annotation terms (``metadata_types``)."""
    for name, base, properties in types.COMPLEX_TYPES:
        node = etree.SubElement(schema, f"{{{EDM}}}ComplexType", Name=name)
        if base is not None:
            node.set("BaseType", f"mscrm.{base}")
        if name == "QueryBase":
            node.set("Abstract", "true")
        for prop, edm_type in properties:
            element = etree.SubElement(node, f"{{{EDM}}}Property", Name=prop, Type=edm_type)
            if (name, prop) in types.NOT_NULLABLE:
                element.set("Nullable", "false")
            if edm_type in types.NOT_UNICODE:
                element.set("Unicode", "false")
    for name, members in types.ENUM_TYPES:
        node = etree.SubElement(schema, f"{{{EDM}}}EnumType", Name=name)
        for value, member in enumerate(members):
            etree.SubElement(node, f"{{{EDM}}}Member", Name=member, Value=str(value))
    for name, edm_type in types.TERMS:
        etree.SubElement(schema, f"{{{EDM}}}Term", Name=name, Type=edm_type)


def metadata_document() -> bytes:
    """Return the CSDL XML of the facade's service."""
    root = etree.Element(f"{{{EDMX}}}Edmx", nsmap={"edmx": EDMX}, Version="4.0")
    services = etree.SubElement(root, f"{{{EDMX}}}DataServices")
    schema = etree.SubElement(services, f"{{{EDM}}}Schema", nsmap=_DEFAULT_NS, Namespace=NS, Alias="mscrm")
    _base_types(schema)
    for entity_set in ENTITY_SETS:
        _entity_type(schema, entity_set)
    _query_types(schema)
    for name, properties in _COMPLEX:
        complex_type = etree.SubElement(schema, f"{{{EDM}}}ComplexType", Name=name)
        for prop, edm_type in properties:
            element = etree.SubElement(complex_type, f"{{{EDM}}}Property", Name=prop, Type=edm_type)
            if edm_type == "Edm.String":
                element.set("Unicode", "false")
        if name == "BackgroundSendEmailResponse":
            etree.SubElement(
                complex_type,
                f"{{{EDM}}}NavigationProperty",
                Name="EntityCollection",
                Type="Collection(mscrm.email)",
            )
    for spec in _OPERATIONS:
        _operation(schema, spec)
    container = etree.SubElement(schema, f"{{{EDM}}}EntityContainer", Name="System")
    for entity_set in ENTITY_SETS:
        etree.SubElement(
            container,
            f"{{{EDM}}}EntitySet",
            Name=entity_set.name,
            EntityType=f"{NS}.{entity_set.logical_name}",
        )
    for name, bound, _, _, is_function in _OPERATIONS:
        if bound is None:
            kind = "FunctionImport" if is_function else "ActionImport"
            etree.SubElement(
                container,
                f"{{{EDM}}}{kind}",
                Name=name,
                attrib={"Function" if is_function else "Action": f"{NS}.{name}"},
            )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
