"""`profiles validate|schema`, `publish` and `published list|show|rollback` end to end."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import SystemClock
from router.home import Home
from router.state import Direction, StateStore
from router.state.directory import DirectoryRow
from tests.unit.cli.conftest import Invoke
from tests.unit.config.test_samples import SAMPLE_CREDENTIALS, SAMPLES


def _init_with_sample_credentials(run: Invoke) -> None:
    run("init")
    for name, kind in SAMPLE_CREDENTIALS.items():
        extra = ["--username", "svc"] if kind == "password" else []
        assert run("credentials", "set", name, "--kind", kind.value, *extra, "--stdin",
                   input=f"secret-of-{name}\n").exit_code == 0


def test_validate_samples_without_a_home(home: Home, run: Invoke) -> None:
    result = run("profiles", "validate", str(SAMPLES))
    assert result.exit_code == 0, result.output
    assert "6 profiles, 2 deployments, 7 mailboxes" in result.output
    assert "credentials not checked" in result.output and "email-router init" in result.output


def test_validate_checks_the_vault_and_lists_every_problem(home: Home, run: Invoke) -> None:
    run("init")
    result = run("profiles", "validate", str(SAMPLES))
    assert result.exit_code == 3
    assert result.output.count("no credential named") == 7
    assert "credentials set svc-exchange --kind password" in result.output
    assert run("profiles", "validate", "--no-vault", str(SAMPLES)).exit_code == 0


def test_validate_reports_problems_with_file_and_key(tmp_path: Path, home: Home, run: Invoke) -> None:
    (tmp_path / "p.toml").write_text('[profiles.x]\ndirection = "sideways"\n')
    result = run("profiles", "validate", "--no-vault", str(tmp_path))
    assert result.exit_code == 3
    assert f"{tmp_path / 'p.toml'}: profiles.x.direction:" in result.output
    assert "profiles.x.server_type: required key is missing" in result.output
    assert "hint:" in result.output
    missing = run("profiles", "validate", str(tmp_path / "nowhere"))
    assert missing.exit_code == 3 and "does not exist" in missing.output


def test_profiles_directory_from_environment(tmp_path: Path, home: Home, run: Invoke,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``EMAIL_ROUTER_PROFILES`` names a directory that is not the default ``profiles/``.

    The working directory has no ``profiles/`` at all, so the commands succeed only by reading the
    directory the variable names; a variable ignored fails them.
    """
    elsewhere = tmp_path / "admin-profiles"
    shutil.copytree(SAMPLES, elsewhere)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("EMAIL_ROUTER_PROFILES", raising=False)
    assert run("profiles", "validate", "--no-vault").exit_code == 3, "no profiles/ here without the variable"
    monkeypatch.setenv("EMAIL_ROUTER_PROFILES", str(elsewhere))
    validated = run("profiles", "validate", "--no-vault")
    assert validated.exit_code == 0, validated.output
    assert f"OK: {elsewhere}: 6 profiles, 2 deployments, 7 mailboxes" in validated.output
    _init_with_sample_credentials(run)
    published = run("publish")
    assert published.exit_code == 0 and "published version 1" in published.output, published.output
    assert str(elsewhere) in run("published", "list").output


def test_schema_is_json_schema_of_a_profiles_file(run: Invoke) -> None:
    schema = json.loads(run("profiles", "schema").output)
    assert schema["title"] == "email-router profiles file"
    assert set(schema["properties"]) == {"profiles", "deployments", "users", "queues",
                                         "forward_mailboxes", "settings"}
    assert schema["$defs"]["Profile"]["additionalProperties"] is False


def test_publish_list_show_rollback(home: Home, run: Invoke) -> None:
    _init_with_sample_credentials(run)
    first = run("publish", str(SAMPLES))
    assert first.exit_code == 0 and "published version 1" in first.output
    assert run("publish", str(SAMPLES)).exit_code == 0
    rolled = run("published", "rollback", "1")
    assert rolled.exit_code == 0 and "republished as version 3" in rolled.output
    listing = run("published", "list").output
    assert "rollback of 1, newest" in listing and listing.count(str(SAMPLES)) == 3
    assert "running" not in listing, "no service has run: nothing is said to be running"
    with StateStore.open_home(home, SystemClock()) as store:
        at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        store.directory.replace([DirectoryRow("a@contoso.com", Direction.INCOMING, "contoso", "user",
                                              "published", True, "", None, None, 2, at)])
    listing = run("published", "list").output
    assert "(a running service reported it at 2026-01-02T03:04:05+00:00)" in listing
    assert "rollback of 1, newest)" in listing
    shown = run("published", "show", "2")
    assert shown.exit_code == 0 and "[profiles.onprem-send-as]" in shown.output
    assert "#   svc-exchange: password" in shown.output and "secret-of-" not in shown.output
    assert "(newest)" in run("published", "show").output


def test_show_missing_or_tampered_version(home: Home, run: Invoke) -> None:
    _init_with_sample_credentials(run)
    assert "nothing published yet" in run("published", "list").output
    run("publish", str(SAMPLES))
    missing = run("published", "show", "9")
    assert missing.exit_code == 3 and "published list" in missing.output
    path = home.published_dir / "v000001.json"
    path.write_text(path.read_text().replace('"max_threads": 50', '"max_threads": 500'))
    shown = run("published", "show", "1")
    assert shown.exit_code == 3 and "integrity check failed" in shown.output
    assert "REFUSED" in run("published", "list").output
    assert run("published", "rollback", "1").exit_code == 3


def test_malformed_environment_key_is_reported_not_skipped(home: Home, run: Invoke,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_ROUTER_KEY", "garbage")
    result = run("profiles", "validate", str(SAMPLES))
    assert result.exit_code == 4 and "malformed" in result.output


def test_validate_and_publish_warn_about_tls_verify_false(tmp_path: Path, home: Home, run: Invoke) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for source in SAMPLES.glob("*.toml"):
        (profiles / source.name).write_text(source.read_text())
    first = next(p for p in sorted(profiles.glob("*.toml")) if "[profiles." in p.read_text())
    name = first.read_text().split("[profiles.", 1)[1].split("]", 1)[0]
    first.write_text(first.read_text() + f"\n[profiles.{name}.tls]\nverify = false\n")
    validated = run("profiles", "validate", "--no-vault", str(profiles))
    assert validated.exit_code == 0, validated.output
    assert f"WARNING: profile '{name}': tls.verify = false" in validated.output
    _init_with_sample_credentials(run)
    published = run("publish", str(profiles))
    assert published.exit_code == 0, published.output
    assert f"WARNING: profile '{name}': tls.verify = false" in published.output
    first.write_text(first.read_text().replace("verify = false", 'verify = "no"'))
    refused = run("profiles", "validate", "--no-vault", str(profiles))
    assert refused.exit_code == 3 and f"profiles.{name}.tls.verify" in refused.output
