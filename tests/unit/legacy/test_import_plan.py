"""Mapping the legacy model onto profiles: what is written, what is adjusted, and that it validates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.config import (
    AccessType,
    AuthMethod,
    CredentialSource,
    ServerType,
    SystemSettings,
    UserType,
    load_profiles,
)
from router.errors import UsageError
from router.legacy import FindingKind, Severity, read_installation
from router.legacy.importer import ImportResult, plan_import
from router.legacy.output import write_import

from .conftest import CANARIES

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _plan(*paths: Path) -> ImportResult:
    return plan_import(read_installation(list(paths)), FrozenClock(NOW))


def _paths(result: ImportResult, kind: FindingKind) -> list[str]:
    return [f.path for f in result.findings if f.kind is kind]


def test_official_sample_becomes_settings_in_seconds_and_validates(data: Path, tmp_path: Path) -> None:
    result = _plan(data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml")
    assert sorted(result.files) == ["deployments.toml", "settings.toml"]
    assert result.files["settings.toml"].settings == SystemSettings(
        max_threads=50, max_thread_execution_seconds=600.0, scheduling_period_seconds=1.0,
        config_refresh_period_seconds=5.0, config_update_period_seconds=3600.0, log_level=1,
        cache_capacity=1024, pending_status_delay_seconds=300.0, sending_status_delay_seconds=1800.0,
        maximum_delivery_attempts=10, ews_retrieve_message_count=10, batch_size=5, request_batch_size=5)
    (log_file,) = [f for f in result.findings if f.path.endswith("/LogFile")]
    assert log_file.line == 10 and log_file.value == "c:\\emailRouterLog.txt"
    deployment = result.files["deployments.toml"].deployments["legacy"]
    assert deployment.embedded is not None and deployment.dynamics is None
    write_import(result, tmp_path / "out", force=False)
    profile_set = load_profiles(tmp_path / "out")
    assert profile_set.settings.config_update_period_seconds == 3600.0
    assert result.credentials == ()


def test_full_installation_maps_profiles_bindings_and_thresholds(data: Path, tmp_path: Path) -> None:
    result = _plan(data / "full")
    profiles = result.files["profiles.toml"].profiles
    assert sorted(profiles) == ["Exchange-incoming", "Forward-mailbox", "Online-outgoing"]
    incoming = profiles["Exchange-incoming"]
    assert (incoming.server_type, incoming.auth, incoming.credentials, incoming.credential) == (
        ServerType.EXCHANGE_2013, AuthMethod.NTLM, CredentialSource.OTHER_SPECIFIED, "CONTOSO.svc-crmrouter")
    assert (incoming.user_type, incoming.access_type) == (UserType.ADMINISTRATOR, AccessType.DELEGATE)
    online = profiles["Online-outgoing"]
    assert (online.server_type, online.auth, online.access_type) == (
        ServerType.EXCHANGE_ONLINE, AuthMethod.BASIC, AccessType.SEND_AS)
    assert profiles["Forward-mailbox"].credentials is CredentialSource.LOCAL_SYSTEM
    deployment = result.files["deployments.toml"].deployments["Contoso"]
    assert deployment.dynamics is not None
    assert str(deployment.dynamics.url) == "https://crm.contoso.test:5555/Contoso/api/data/v9.0/"
    assert (deployment.default_incoming_profile, deployment.default_outgoing_profile) == (
        "Exchange-incoming", "Online-outgoing")
    mailboxes = result.files["mailboxes.toml"]
    (alice,) = mailboxes.users
    assert alice.process_from == datetime(2024, 3, 18, 9, 15, 42, 123456, tzinfo=UTC)
    (forward,) = mailboxes.forward_mailboxes
    assert forward.process_from == NOW, "the reset 0001-01-01 threshold starts at the import, not at zero"
    assert forward.delete_after_processing and forward.incoming_profile == "Forward-mailbox"
    assert result.stats.carried_thresholds == 1 and result.stats.mailboxes == 2
    assert [c.name for c in result.credentials] == [
        "CONTOSO.svc-crmrouter", "router@contoso.onmicrosoft.test", "crm-Contoso"]
    assert result.credentials[0].command() == (
        "email-router credentials set CONTOSO.svc-crmrouter --username 'CONTOSO\\svc-crmrouter'")
    write_import(result, tmp_path / "out", force=False)
    assert load_profiles(tmp_path / "out").mailboxes()[0].process_from == alice.process_from
    for written in (tmp_path / "out").iterdir():
        text = written.read_text(encoding="utf-8")
        assert not any(canary in text for canary in CANARIES), written.name


def test_adjustments_are_made_and_reported(data: Path, tmp_path: Path) -> None:
    variety = data / "variety"
    result = _plan(variety / "Microsoft.Crm.Tools.EmailAgent.xml", variety / "second-router.xml")
    profiles = result.files["profiles.toml"].profiles
    assert sorted(profiles) == ["Fabrikam-incoming-A", "Fabrikam-outgoing", "Fabrikam-own-credentials",
                                "Northwind-shared"]
    assert "Fabrikam incoming B, Fabrikam incoming group" in profiles["Fabrikam-incoming-A"].description
    own = profiles["Fabrikam-own-credentials"]
    assert str(own.ews_url) == "https://legacy-cas.fabrikam.test/EWS/Exchange.asmx", "never Basic over http"
    assert own.credentials is CredentialSource.USER_SPECIFIED
    outgoing = profiles["Fabrikam-outgoing"]
    assert outgoing.credentials is CredentialSource.OTHER_SPECIFIED and outgoing.autodiscover
    shared = {c.name: c for c in result.credentials}["FABRIKAM.svc-mail"]
    assert shared.used_by == ("profile Fabrikam-incoming-A", "deployment Fabrikam")
    assert "CRM service account" in shared.purpose
    mailboxes = result.files["mailboxes.toml"]
    assert [(u.address, u.deployment) for u in mailboxes.users] == [
        ("dan@fabrikam.test", "Fabrikam"), ("erin@fabrikam.test", "Fabrikam"),
        ("hal@northwind.test", "northwind")]
    erin = mailboxes.users[1]
    assert erin.credential == "erin@fabrikam.test" and not erin.outgoing
    assert erin.incoming_profile == "Fabrikam-own-credentials"
    assert [q.address for q in mailboxes.queues] == ["support@fabrikam.test"]
    messages = " ".join(f.message for f in result.findings)
    assert "smtp has no Exchange Web Services" in messages
    assert "every provider of gina@northwind.test was disabled" in messages
    assert "dan@fabrikam.test is already served for deployment 'Fabrikam'" in messages
    assert "claims sign-in has no direct equivalent" in messages
    assert "no SystemState file was given" in messages
    (refused,) = [f for f in result.findings if f.path.endswith("/SendingStatusDelay")]
    assert refused.kind is FindingKind.BAD_VALUE and refused.line == 8
    (conflict,) = _paths(result, FindingKind.DUPLICATE)[:1]
    assert conflict == "/Configuration/SystemConfiguration/MaxThreads"
    assert result.files["settings.toml"].settings == SystemSettings(
        max_threads=20, batch_size=7, log_file=Path("/var/log/email-router/legacy.log"))
    write_import(result, tmp_path / "out", force=False)
    assert len(load_profiles(tmp_path / "out").mailboxes()) == 4


def test_reader_findings_reach_the_report_and_bad_values_still_validate(data: Path, tmp_path: Path) -> None:
    result = _plan(data / "bad" / "unknown-elements.xml", data / "bad" / "bad-values.xml")
    unmapped = _paths(result, FindingKind.UNMAPPED_ELEMENT)
    assert "/Configuration/Licensing" in unmapped
    assert "/Configuration/ProviderConfiguration/ProxyPassword" in unmapped
    skipped = [f for f in result.findings if "direction is unknown" in f.message]
    assert skipped and skipped[0].file.endswith("bad-values.xml")
    write_import(result, tmp_path / "out", force=False)
    report = (tmp_path / "out" / "IMPORT-REPORT.txt").read_text(encoding="utf-8")
    assert "/Configuration/Licensing" in report and "unknown element <Licensing>" in report
    assert "CANARY-PROXY-SECRET-99" not in report
    assert load_profiles(tmp_path / "out").users[0].address == "carol@contoso.test"


def test_state_only_import_reports_unused_entries(data: Path) -> None:
    result = _plan(data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml")
    unused = [f for f in result.findings if "matches no imported mailbox" in f.message]
    assert len(unused) == 3 and all(f.severity is Severity.INFO for f in unused)


def test_output_directory_rules(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    full = _plan(data / "full")
    write_import(full, out, force=False)
    with pytest.raises(UsageError, match="is not empty"):
        write_import(full, out, force=False)
    (out / "mine.toml").write_text("[settings]\nlog_level = 3\n")
    official = _plan(data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml")
    foreign = write_import(official, out, force=True)
    assert [p.name for p in foreign] == ["mine.toml"]
    assert not (out / "mailboxes.toml").exists() and not (out / "profiles.toml").exists(), "stale files go"
    assert (out / "mine.toml").exists(), "files of others stay"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.import-")], "staging removed"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        write_import(official, tmp_path / "file", force=True)
