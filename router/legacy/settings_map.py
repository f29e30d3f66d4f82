"""Map the legacy ``<SystemConfiguration>`` and ``<ProviderOverrides>`` onto ``[settings]``.

Legacy intervals are milliseconds; ours are seconds. Each value is offered to ``SystemSettings`` on its
own, so one value the new router refuses (a zero SendingStatusDelay, say) is reported and replaced by
the default without losing the others. Overrides inside a single ``<ProviderConfiguration>`` have no
per-profile equivalent and are reported. A Windows ``LogFile`` path means nothing on this machine and
is reported rather than copied.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from pydantic import ValidationError

from router.config.settings import SystemSettings
from router.legacy.mapcontext import MapContext
from router.legacy.model import (
    FindingKind,
    LegacyAgentConfig,
    LegacyOverrides,
    Severity,
)

MILLISECOND_FIELDS: dict[str, str] = {
    "max_thread_execution_ms": "max_thread_execution_seconds",
    "scheduling_period_ms": "scheduling_period_seconds",
    "config_refresh_period_ms": "config_refresh_period_seconds",
    "config_update_period_ms": "config_update_period_seconds",
    "pending_status_delay_ms": "pending_status_delay_seconds",
    "sending_status_delay_ms": "sending_status_delay_seconds",
}
"""Legacy millisecond attributes and the seconds field each becomes."""

LEGACY_NAMES: dict[str, str] = {
    "max_threads": "MaxThreads", "max_thread_execution_ms": "MaxThreadExecution",
    "scheduling_period_ms": "SchedulingPeriod", "config_refresh_period_ms": "ConfigRefreshPeriod",
    "config_update_period_ms": "ConfigUpdatePeriod", "log_level": "LogLevel", "log_file": "LogFile",
    "cache_capacity": "CacheCapacity", "pending_status_delay_ms": "PendingStatusDelay",
    "sending_status_delay_ms": "SendingStatusDelay", "maximum_delivery_attempts": "MaximumDeliveryAttempts",
    "ews_retrieve_message_count": "EWSRetrieveMessageCount", "batch_size": "BatchSize",
    "request_batch_size": "RequestBatchSize",
}

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:|\\")


def legacy_values(config: LegacyAgentConfig) -> dict[str, Any]:
    """Return every value the file set, keyed by the legacy model's attribute name."""
    values: dict[str, Any] = {}
    for part in (config.system, config.overrides):
        values.update({f.name: getattr(part, f.name) for f in fields(part)
                       if getattr(part, f.name) is not None})
    return values


def _where(config: LegacyAgentConfig, attribute: str) -> tuple[str, int | None]:
    """Return the XPath and line of a legacy setting in ``config``'s file."""
    return config.where(LEGACY_NAMES[attribute])


def _offer(ctx: MapContext, config: LegacyAgentConfig, attribute: str, value: Any,
           accepted: dict[str, Any]) -> None:
    """Add one converted value to ``accepted`` if SystemSettings takes it, else report it."""
    target = MILLISECOND_FIELDS.get(attribute, attribute)
    converted = value / 1000 if attribute in MILLISECOND_FIELDS else value
    path, line = _where(config, attribute)
    if attribute == "log_file" and _WINDOWS_PATH.search(str(value)):
        ctx.report(config.file, path, FindingKind.UNSUPPORTED, severity=Severity.INFO, line=line,
                   value=str(value), message="a Windows path: the log goes to the home's logs directory; "
                   "set settings.log_file to a path on this machine to change it")
        return
    try:
        SystemSettings.model_validate({target: converted})
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        ctx.report(config.file, path, FindingKind.BAD_VALUE, line=line, value=str(value),
                   message=f"the new router refuses this value for {target} ({reason}): the default applies")
        return
    accepted[target] = converted


def _report_conflicts(ctx: MapContext, first: LegacyAgentConfig, other: LegacyAgentConfig) -> None:
    """Report each setting a later configuration file sets differently from the first one."""
    chosen = legacy_values(first)
    for attribute, value in legacy_values(other).items():
        if chosen.get(attribute, value) != value:
            path, line = _where(other, attribute)
            ctx.report(other.file, path, FindingKind.DUPLICATE, line=line, value=str(value),
                       message=f"{first.file} sets {LEGACY_NAMES[attribute]} = {chosen[attribute]}; "
                       "settings are service-wide, so the first file's value is used")


def _report_provider_overrides(ctx: MapContext, config: LegacyAgentConfig) -> None:
    """Report per-provider overrides: the new router's settings are service-wide."""
    for provider in config.providers:
        if provider.overrides == LegacyOverrides():
            continue
        values = {f.name: getattr(provider.overrides, f.name) for f in fields(provider.overrides)}
        shown = ", ".join(f"{LEGACY_NAMES[k]}={v}" for k, v in values.items() if v is not None)
        where, line = provider.where("ProviderOverrides")
        ctx.report(config.file, where, FindingKind.UNSUPPORTED, line=line, value=shown,
                   message="per-provider overrides have no per-profile equivalent: not imported; the "
                   "service-wide [settings] apply to this mailbox")


def map_settings(ctx: MapContext, configs: tuple[LegacyAgentConfig, ...]) -> SystemSettings | None:
    """Return ``[settings]`` built from the first configuration file, or None when it sets nothing."""
    for config in configs:
        _report_provider_overrides(ctx, config)
    if not configs:
        return None
    first = configs[0]
    for other in configs[1:]:
        _report_conflicts(ctx, first, other)
    accepted: dict[str, Any] = {}
    for attribute, value in legacy_values(first).items():
        _offer(ctx, first, attribute, value, accepted)
    return SystemSettings.model_validate(accepted) if accepted else None
