"""Read ``<SystemConfiguration>`` and ``<ProviderOverrides>`` (reference §2.2, §2.3).

Element names are matched without regard to case, as the CRM's own migration code does. Each value is
range-checked; a value out of range is reported and left unset, so the new router's default applies
instead of a nonsense figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from router.legacy.collect import Collector
from router.legacy.model import LegacyOverrides, LegacySystemSettings
from router.legacy.xmlfile import child_elements, local_name

INT32_MAX = 2**31 - 1
"""The legacy router kept its intervals in .NET Int32 milliseconds."""


@dataclass(frozen=True)
class IntField:
    """Where an integer element lands in the model, and the range the importer accepts."""

    attribute: str
    minimum: int
    maximum: int


SYSTEM_FIELDS: dict[str, IntField] = {
    "maxthreads": IntField("max_threads", 1, 1000),
    "maxthreadexecution": IntField("max_thread_execution_ms", 1000, INT32_MAX),
    "schedulingperiod": IntField("scheduling_period_ms", 1, INT32_MAX),
    "configrefreshperiod": IntField("config_refresh_period_ms", 1, INT32_MAX),
    "configupdateperiod": IntField("config_update_period_ms", 1, INT32_MAX),
    "loglevel": IntField("log_level", 0, 3),
}

OVERRIDE_FIELDS: dict[str, IntField] = {
    "cachecapacity": IntField("cache_capacity", 0, 10_000_000),
    "pendingstatusdelay": IntField("pending_status_delay_ms", 0, INT32_MAX),
    "sendingstatusdelay": IntField("sending_status_delay_ms", 0, INT32_MAX),
    "maximumdeliveryattempts": IntField("maximum_delivery_attempts", 1, 1000),
    "ewsretrievemessagecount": IntField("ews_retrieve_message_count", 1, 1000),
    "batchsize": IntField("batch_size", 1, 10_000),
    "requestbatchsize": IntField("request_batch_size", 1, 10_000),
}


def read_int_field(collector: Collector, table: dict[str, IntField], element: etree._Element,
                   seen: dict[str, Any]) -> bool:
    """Read ``element`` into ``seen`` if ``table`` knows it; return False when it is not in the table."""
    key = local_name(element).lower()
    spec = table.get(key)
    if spec is None:
        return False
    if spec.attribute in seen:
        collector.duplicate(element)
        return True
    value = collector.read_int(element, spec.minimum, spec.maximum)
    seen[spec.attribute] = value
    return True


def read_overrides(collector: Collector, element: etree._Element) -> LegacyOverrides:
    """Read one ``<ProviderOverrides>`` element."""
    collector.check_attributes(element)
    collector.check_container_text(element)
    values: dict[str, Any] = {}
    for child in child_elements(element):
        if not read_int_field(collector, OVERRIDE_FIELDS, child, values):
            collector.unmapped(child, "<ProviderOverrides>")
    return LegacyOverrides(**{k: v for k, v in values.items() if v is not None})


def read_system_configuration(collector: Collector,
                              element: etree._Element) -> tuple[LegacySystemSettings, LegacyOverrides]:
    """Read ``<SystemConfiguration>``: its scalars and the system-wide ``<ProviderOverrides>``."""
    collector.check_attributes(element)
    collector.check_container_text(element)
    values: dict[str, Any] = {}
    overrides: LegacyOverrides | None = None
    for child in child_elements(element):
        name = local_name(child).lower()
        if read_int_field(collector, SYSTEM_FIELDS, child, values):
            continue
        if name == "logfile":
            if "log_file" in values:
                collector.duplicate(child)
            else:
                values["log_file"] = collector.leaf_text(child)
        elif name == "provideroverrides":
            if overrides is not None:
                collector.duplicate(child)
            else:
                overrides = read_overrides(collector, child)
        else:
            collector.unmapped(child, "<SystemConfiguration>")
    settings = LegacySystemSettings(**{k: v for k, v in values.items() if v is not None})
    return settings, overrides or LegacyOverrides()
