"""Read one ``<ProviderConfiguration>``: a legacy provider instance and the profile-like settings it holds.

Recognised elements (names compared without case, as the CRM migration code reads them):

============================================  =====================================================
Name, ProfileName                             the provider's name
ProviderClass                                 SDK class: gives direction and sometimes server type
ProviderAssembly                              the hosting .NET assembly (no equivalent needed)
Direction                                     Incoming / Outgoing (also Inbound / Outbound)
CrmServerUrl                                  the deployment's organization URL
CrmAuthMode, CrmUser, CrmPassword             how the router signed in to the CRM
EmailServerType                               Exchange 2003 ... 2013, Exchange Online, POP3, SMTP
EmailServerUrl, UseAutodiscover, EmailUseSSL  where the mail server is
EmailAuthMode                                 Windows, Clear Text, Anonymous
EmailAccessCredentials                        Local System, User Specified, Other Specified
EmailUser, EmailPassword                      the Other Specified account
EmailUserType, EmailAccessType                Administrator / User; Delegate / Send As
EmailAddress                                  the mailbox (for a forward mailbox: itself)
UserId, QueueId (repeatable)                  the CRM users and queues served
IsForwardMailbox, DeleteEmails                forward mailbox mode and its delete option
Enabled                                       a disabled provider is read but flagged
ProviderOverrides                             per-provider overrides (same names as system-wide)
============================================  =====================================================

Anything else is reported as unmapped, with its path. Password values are never read.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from router.legacy.collect import Collector, shorten
from router.legacy.model import Direction, FindingKind, LegacyProvider, ServerType, Severity
from router.legacy.settings_reader import read_overrides
from router.legacy.vocabulary import (
    ACCESS_TYPES,
    AUTH_MODES,
    CREDENTIAL_MODES,
    CRM_AUTH_MODES,
    DIRECTIONS,
    PROVIDER_CLASSES,
    SERVER_TYPES,
    USER_TYPES,
    provider_class_key,
)
from router.legacy.xmlfile import child_elements, local_name, source_line, xml_path

Handler = Callable[[Collector, etree._Element, dict[str, Any]], None]

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _text(attribute: str) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        values[attribute] = collector.leaf_text(element)
    return handle


def _choice(attribute: str, table: Mapping[str, object]) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        values[attribute] = collector.read_choice(element, table)
    return handle


def _flag(attribute: str) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        values[attribute] = collector.read_bool(element)
    return handle


def _secret(attribute: str, purpose: str) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        collector.check_attributes(element)
        present = bool((element.text or "").strip())
        values[attribute] = present
        if present:
            collector.add(element, FindingKind.SECRET_NOT_IMPORTED,
                          f"the {purpose} password is encrypted with the legacy router's key and cannot "
                          "be imported: set it again with `email-router credentials set`",
                          severity=Severity.INFO)
    return handle


def _email(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
    text = collector.leaf_text(element)
    values["email_address"] = text.lower() if text and _EMAIL.match(text) else None
    if values["email_address"] is None:
        collector.add(element, FindingKind.BAD_VALUE, "<EmailAddress> is not an e-mail address: ignored",
                      value=shorten(text or ""))


def _url(attribute: str) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        text = collector.leaf_text(element)
        parts = urlsplit(text or "")
        values[attribute] = text if parts.scheme in ("http", "https") and parts.hostname else None
        if values[attribute] is None:
            collector.add(element, FindingKind.BAD_VALUE,
                          f"<{local_name(element)}> is not an http(s) URL: ignored",
                          value=shorten(text or ""))
    return handle


def _guid(attribute: str) -> Handler:
    def handle(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
        text = collector.leaf_text(element) or ""
        try:
            values.setdefault(attribute, []).append(str(uuid.UUID(text.strip("{}"))))
        except ValueError:
            collector.add(element, FindingKind.BAD_VALUE,
                          f"<{local_name(element)}> is not a CRM record id (a GUID): ignored",
                          value=shorten(text))
    return handle


def _assembly(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
    values["provider_assembly"] = collector.leaf_text(element)
    collector.add(element, FindingKind.UNSUPPORTED,
                  "names the .NET assembly that hosted the provider; the new router needs no equivalent",
                  severity=Severity.INFO, value=shorten(element.text or ""))


def _overrides(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
    values["overrides"] = read_overrides(collector, element)


HANDLERS: dict[str, tuple[str, Handler]] = {
    "name": ("name", _text("name")),
    "profilename": ("name", _text("name")),
    "providerclass": ("provider_class", _text("provider_class")),
    "providerassembly": ("provider_assembly", _assembly),
    "direction": ("direction", _choice("direction", DIRECTIONS)),
    "crmserverurl": ("crm_server_url", _url("crm_server_url")),
    "crmauthmode": ("crm_auth_mode", _choice("crm_auth_mode", CRM_AUTH_MODES)),
    "crmuser": ("crm_user", _text("crm_user")),
    "crmpassword": ("has_crm_password", _secret("has_crm_password", "CRM service account")),
    "emailservertype": ("server_type", _choice("server_type", SERVER_TYPES)),
    "emailserverurl": ("email_server_url", _url("email_server_url")),
    "useautodiscover": ("use_autodiscover", _flag("use_autodiscover")),
    "emailusessl": ("use_ssl", _flag("use_ssl")),
    "emailauthmode": ("auth_mode", _choice("auth_mode", AUTH_MODES)),
    "emailaccesscredentials": ("credential_mode", _choice("credential_mode", CREDENTIAL_MODES)),
    "emailuser": ("email_user", _text("email_user")),
    "emailpassword": ("has_email_password", _secret("has_email_password", "mailbox access account")),
    "emailusertype": ("user_type", _choice("user_type", USER_TYPES)),
    "emailaccesstype": ("access_type", _choice("access_type", ACCESS_TYPES)),
    "emailaddress": ("email_address", _email),
    "userid": ("user_ids", _guid("user_ids")),
    "queueid": ("queue_ids", _guid("queue_ids")),
    "isforwardmailbox": ("is_forward_mailbox", _flag("is_forward_mailbox")),
    "deleteemails": ("delete_after_processing", _flag("delete_after_processing")),
    "enabled": ("enabled", _flag("enabled")),
    "provideroverrides": ("overrides", _overrides),
}
"""Element name (lower case) -> (the model attribute it fills, its handler)."""

REPEATABLE = frozenset({"user_ids", "queue_ids"})


def _class_facts(collector: Collector, element: etree._Element,
                 values: dict[str, Any]) -> tuple[Direction | None, ServerType | None]:
    """Return the direction and server type the ProviderClass implies, reporting an unknown class."""
    text = values.get("provider_class")
    if not text:
        return None, None
    facts = PROVIDER_CLASSES.get(provider_class_key(text))
    if facts is None:
        collector.add(element, FindingKind.UNSUPPORTED,
                      "<ProviderClass> names a provider this importer does not know (a custom provider?): "
                      "its direction must come from <Direction>", value=shorten(text),
                      path=f"{xml_path(element)}/ProviderClass")
        return None, None
    return facts


def _settle_direction(collector: Collector, element: etree._Element, values: dict[str, Any]) -> None:
    """Fill direction and server type from the ProviderClass where the file did not state them."""
    implied_direction, implied_server = _class_facts(collector, element, values)
    stated = values.get("direction")
    if stated is None:
        values["direction"] = implied_direction
    elif implied_direction is not None and implied_direction is not stated:
        collector.add(element, FindingKind.BAD_VALUE,
                      f"<Direction> says {stated} but <ProviderClass> is an {implied_direction} provider: "
                      "<Direction> is used", path=f"{xml_path(element)}/Direction")
    if values.get("server_type") is None and implied_server is not None:
        values["server_type"] = implied_server


def read_provider(collector: Collector, element: etree._Element) -> LegacyProvider:
    """Read one ``<ProviderConfiguration>`` element into a LegacyProvider."""
    collector.check_attributes(element)
    collector.check_container_text(element)
    values: dict[str, Any] = {}
    elements: dict[str, tuple[str, int | None]] = {}
    for child in child_elements(element):
        entry = HANDLERS.get(local_name(child).lower())
        if entry is None:
            collector.unmapped(child, "<ProviderConfiguration>")
            continue
        attribute, handle = entry
        if attribute in values and attribute not in REPEATABLE:
            collector.duplicate(child)
            continue
        elements.setdefault(local_name(child).lower(), (xml_path(child), source_line(child)))
        handle(collector, child, values)
    values.pop("provider_assembly", None)
    _settle_direction(collector, element, values)
    for attribute in REPEATABLE:
        values[attribute] = tuple(dict.fromkeys(values.get(attribute, ())))
    present = {k: v for k, v in values.items() if v is not None}
    return LegacyProvider(file=collector.file, path=xml_path(element), line=source_line(element),
                          elements=elements, **present)
