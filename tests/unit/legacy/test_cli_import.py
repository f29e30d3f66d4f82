"""`email-router import-legacy` end to end: files in, validated profiles and reports out."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from router.cli.main import cli
from router.home import Home

from .conftest import CANARIES

WIDE = {"COLUMNS": "400"}
"""Rich wraps to the terminal width; a wide one keeps each XML path on one line for the assertions."""


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=WIDE)


def test_verbatim_sample_imports_and_validates(home: Home, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    sample = data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml"
    result = _run("import-legacy", str(sample), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Legacy import" in result.output and "No credentials to set." in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "CREDENTIALS-TO-SET.txt", "IMPORT-REPORT.txt", "deployments.toml", "settings.toml"]
    settings = tomllib.loads((out / "settings.toml").read_text(encoding="utf-8"))["settings"]
    assert settings["config_update_period_seconds"] == 3600.0 and settings["max_threads"] == 50
    assert settings["sending_status_delay_seconds"] == 1800.0 and settings["log_level"] == 1
    validated = _run("profiles", "validate", str(out))
    assert validated.exit_code == 0, validated.output
    assert validated.output.startswith(f"OK: {out}: 0 profiles, 1 deployments, 0 mailboxes")


def test_full_import_carries_thresholds_lists_credentials_and_hides_secrets(
        home: Home, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = datetime.now(UTC).replace(microsecond=0)
    result = _run("import-legacy", str(data / "full" / "Microsoft.Crm.Tools.EmailAgent.xml"),
                  str(data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml"), "--out", str(out))
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    mailboxes = tomllib.loads((out / "mailboxes.toml").read_text(encoding="utf-8"))
    assert mailboxes["users"][0]["process_from"] == datetime(2024, 3, 18, 9, 15, 42, 123456, tzinfo=UTC)
    reset = mailboxes["forward_mailboxes"][0]["process_from"]
    assert before <= reset <= after, "a reset threshold starts at the import time"
    command = "email-router credentials set CONTOSO.svc-crmrouter --username 'CONTOSO\\svc-crmrouter'"
    assert command in result.output
    credentials = (out / "CREDENTIALS-TO-SET.txt").read_text(encoding="utf-8")
    assert "email-router credentials set crm-Contoso" in credentials
    assert "/SystemState/hc7huh096asdikakwriugmr3p1bk/thresholddate" in result.output
    written = [p.read_text(encoding="utf-8") for p in out.iterdir()]
    for canary in CANARIES:
        assert canary not in result.output
        assert not any(canary in text for text in written)
    assert _run("profiles", "validate", str(out)).exit_code == 0


def test_unmapped_elements_are_printed_with_their_paths(home: Home, data: Path, tmp_path: Path) -> None:
    result = _run("import-legacy", str(data / "bad" / "unknown-elements.xml"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    for path in ("/Configuration/@version", "/Configuration/SystemConfiguration/ThreadPriority",
                 "/Configuration/SystemConfiguration/ProviderOverrides/MessageExpiry",
                 "/Configuration/Licensing",
                 "/Configuration/ProviderConfiguration/MoveEmails",
                 "/Configuration/ProviderConfiguration/ProxyPassword"):
        assert path in result.output, path
    assert "unknown-elements.xml:12" in result.output
    assert "CANARY-PROXY-SECRET-99" not in result.output


@pytest.mark.parametrize(("name", "words"), [
    ("empty.xml", "file is empty"),
    ("truncated-state.xml", "not well-formed XML at line 8"),
    ("EncryptionKey.xml", "is neither a legacy router configuration nor its SystemState"),
    ("billion-laughs.xml", "declares a DOCTYPE"),
])
def test_each_bad_file_is_a_clear_error(home: Home, data: Path, tmp_path: Path, name: str,
                                        words: str) -> None:
    out = tmp_path / "out"
    result = _run("import-legacy", str(data / "bad" / name), "--out", str(out))
    assert result.exit_code == 9
    assert result.output.startswith("error: ") and words in result.output and name in result.output
    assert "hint:" in result.output and "Traceback" not in result.output
    assert not out.exists(), "nothing is written when a file cannot be read"


def test_non_empty_output_directory_needs_force(home: Home, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    sample = str(data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml")
    refused = _run("import-legacy", sample, "--out", str(out))
    assert refused.exit_code == 2 and "is not empty" in refused.output and "--force" in refused.output
    forced = _run("import-legacy", sample, "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.txt").read_text() == "keep me" and (out / "settings.toml").exists()


def test_command_is_listed_and_requires_out(home: Home) -> None:
    assert "import-legacy" in _run("--help").output
    missing = _run("import-legacy", "x.xml")
    assert missing.exit_code == 2 and "--out" in missing.output


def test_the_report_names_the_profiles_that_will_need_graph(home: Home, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run("import-legacy", str(data / "full" / "Microsoft.Crm.Tools.EmailAgent.xml"),
                  "--out", str(out))
    assert result.exit_code == 0, result.output
    report = (out / "IMPORT-REPORT.txt").read_text(encoding="utf-8")
    assert ("Profiles that will need Microsoft Graph (1): Exchange Online switches EWS off on 2027-04-01"
            in report)
    assert "\n  Online-outgoing\n" in report and "Online-outgoing" in result.output
    profiles = tomllib.loads((out / "profiles.toml").read_text(encoding="utf-8"))["profiles"]
    assert profiles["Online-outgoing"]["server_type"] == "exchange_online"
    assert not any("transport" in p for p in profiles.values()), "the import output is unchanged"
