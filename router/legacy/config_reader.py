"""Read ``Microsoft.Crm.Tools.EmailAgent.xml``: ``<Configuration>`` with ``<SystemConfiguration>`` and a
flat list of ``<ProviderConfiguration>`` nodes (reference §2.2, §2.4)."""

from __future__ import annotations

from lxml import etree

from router.legacy.collect import Collector
from router.legacy.model import FindingKind, LegacyAgentConfig, LegacyOverrides, LegacySystemSettings
from router.legacy.provider_reader import read_provider
from router.legacy.settings_reader import read_system_configuration
from router.legacy.xmlfile import child_elements, local_name, source_line, xml_path

CONFIG_ROOT = "configuration"


def is_agent_config(root: etree._Element) -> bool:
    """Return True when ``root`` is the root of an EmailAgent configuration file."""
    return local_name(root).lower() == CONFIG_ROOT


def setting_elements(system: etree._Element) -> dict[str, tuple[str, int | None]]:
    """Return where each setting under ``<SystemConfiguration>`` (and its overrides) sits in the file."""
    found: dict[str, tuple[str, int | None]] = {}
    for child in system.iterdescendants():
        if isinstance(child.tag, str):
            found.setdefault(local_name(child).lower(), (xml_path(child), source_line(child)))
    return found


def read_agent_config(collector: Collector, root: etree._Element) -> LegacyAgentConfig:
    """Read a whole configuration document whose root is ``root``."""
    collector.check_attributes(root)
    collector.check_container_text(root)
    system: tuple[LegacySystemSettings, LegacyOverrides] | None = None
    elements: dict[str, tuple[str, int | None]] = {}
    providers = []
    for child in child_elements(root):
        name = local_name(child).lower()
        if name == "systemconfiguration":
            if system is not None:
                collector.duplicate(child)
            else:
                system = read_system_configuration(collector, child)
                elements = setting_elements(child)
        elif name == "providerconfiguration":
            providers.append(read_provider(collector, child))
        else:
            collector.unmapped(child, "<Configuration>")
    if system is None:
        collector.add(root, FindingKind.BAD_VALUE,
                      "no <SystemConfiguration>: every system setting takes the new router's default")
        system = (LegacySystemSettings(), LegacyOverrides())
    return LegacyAgentConfig(file=collector.file, system=system[0], overrides=system[1],
                             providers=tuple(providers), elements=elements)
