"""Reading Microsoft.Crm.Tools.EmailAgent.xml: the official sample, a full file, and findings."""

from __future__ import annotations

from pathlib import Path

from router.legacy import FindingKind, LegacyOverrides, LegacySystemSettings, Severity, read_installation
from router.legacy.model import AccessType, AuthMode, CredentialMode, Direction, ServerType, UserType

from .conftest import CANARIES


def test_official_sample_reads_every_value_without_findings(data: Path) -> None:
    installation = read_installation([data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml"])
    (config,) = installation.configs
    assert config.system == LegacySystemSettings(
        max_threads=50, max_thread_execution_ms=600000, scheduling_period_ms=1000,
        config_refresh_period_ms=5000, config_update_period_ms=3600000, log_level=1,
        log_file="c:\\emailRouterLog.txt")
    assert config.overrides == LegacyOverrides(
        cache_capacity=1024, pending_status_delay_ms=300000, sending_status_delay_ms=1800000,
        maximum_delivery_attempts=10, ews_retrieve_message_count=10, batch_size=5, request_batch_size=5)
    assert config.providers == () and installation.states == ()
    assert installation.findings == ()


def test_full_file_reads_providers(data: Path) -> None:
    installation = read_installation([data / "full" / "Microsoft.Crm.Tools.EmailAgent.xml"])
    incoming, forward, outgoing, pop3 = installation.providers
    assert incoming.direction is Direction.INCOMING and incoming.server_type is ServerType.EXCHANGE_2013
    assert incoming.credential_mode is CredentialMode.OTHER_SPECIFIED
    assert incoming.email_user == "CONTOSO\\svc-crmrouter" and incoming.has_email_password
    assert incoming.user_ids == ("6d3f0b8e-1c2a-4e5b-9f70-1a2b3c4d5e6f",
                                 "8a1f2e3d-4c5b-6a79-8f01-23456789abcd")
    assert incoming.queue_ids == ("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",)
    assert incoming.overrides == LegacyOverrides(ews_retrieve_message_count=25)
    assert incoming.path == "/Configuration/ProviderConfiguration[1]"
    assert forward.is_forward_mailbox and forward.delete_after_processing and forward.use_autodiscover
    assert forward.direction is Direction.INCOMING, "direction comes from the provider class"
    assert outgoing.server_type is ServerType.EXCHANGE_ONLINE and outgoing.auth_mode is AuthMode.CLEAR_TEXT
    assert outgoing.user_type is UserType.ADMINISTRATOR and outgoing.access_type is AccessType.SEND_AS
    assert outgoing.has_crm_password and outgoing.crm_user == "CONTOSO\\crm-router"
    assert pop3.server_type is ServerType.POP3 and not pop3.enabled


def test_full_file_reports_secrets_and_assembly_but_never_their_values(data: Path) -> None:
    installation = read_installation([data / "full" / "Microsoft.Crm.Tools.EmailAgent.xml"])
    secrets = [f for f in installation.findings if f.kind is FindingKind.SECRET_NOT_IMPORTED]
    assert [f.path for f in secrets] == [
        "/Configuration/ProviderConfiguration[1]/EmailPassword",
        "/Configuration/ProviderConfiguration[3]/CrmPassword",
        "/Configuration/ProviderConfiguration[3]/EmailPassword",
    ]
    assert all(f.value is None for f in secrets)
    kinds = {f.kind for f in installation.findings}
    assert kinds == {FindingKind.SECRET_NOT_IMPORTED, FindingKind.UNSUPPORTED}
    everything = repr(installation)
    assert not any(canary in everything for canary in CANARIES)


def test_unknown_elements_are_reported_with_paths_and_lines(data: Path) -> None:
    installation = read_installation([data / "bad" / "unknown-elements.xml"])
    by_path = {f.path: f for f in installation.findings}
    assert by_path["/Configuration/@version"].kind is FindingKind.UNMAPPED_ATTRIBUTE
    assert by_path["/Configuration/SystemConfiguration/ThreadPriority"].value == "High"
    assert by_path["/Configuration/SystemConfiguration/ProviderOverrides/MessageExpiry"].line == 8
    assert by_path["/Configuration/SystemConfiguration"].kind is FindingKind.UNEXPECTED_TEXT
    licensing = by_path["/Configuration/Licensing"]
    assert "2 element(s) inside it" in licensing.message and licensing.value is None
    assert by_path["/Configuration/ProviderConfiguration/MoveEmails"].value == "true"
    proxy = by_path["/Configuration/ProviderConfiguration/ProxyPassword"]
    assert proxy.kind is FindingKind.UNMAPPED_ELEMENT and proxy.value is None
    assert "/Configuration/ProviderConfiguration/EmailServerPort" in by_path
    assert not any(canary in repr(installation) for canary in CANARIES)
    (provider,) = installation.providers
    assert provider.email_address == "carol@contoso.test", "known siblings are still read"


def test_bad_values_are_reported_and_left_unset(data: Path) -> None:
    installation = read_installation([data / "bad" / "bad-values.xml"])
    (config,) = installation.configs
    assert config.system == LegacySystemSettings(), "no malformed value is carried"
    assert config.overrides == LegacyOverrides()
    messages = {f.path: f.message for f in installation.findings}
    assert "whole number" in messages["/Configuration/SystemConfiguration/MaxThreads[1]"]
    assert "more than once" in messages["/Configuration/SystemConfiguration/MaxThreads[2]"]
    assert "between 0 and 3" in messages["/Configuration/SystemConfiguration/LogLevel"]
    assert "empty" in messages["/Configuration/SystemConfiguration/SchedulingPeriod"]
    assert "between 1 and 1000" in messages[
        "/Configuration/SystemConfiguration/ProviderOverrides/MaximumDeliveryAttempts"]
    assert "custom provider" in messages["/Configuration/ProviderConfiguration/ProviderClass"]
    leaves = ("Direction", "CrmServerUrl", "EmailAddress", "UserId", "IsForwardMailbox", "EmailServerType")
    for leaf in leaves:
        assert f"/Configuration/ProviderConfiguration/{leaf}" in messages, leaf
    (provider,) = installation.providers
    assert provider.direction is None and provider.email_address is None and provider.user_ids == ()
    assert all(f.severity is Severity.WARNING for f in installation.findings)
