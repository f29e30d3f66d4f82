"""`email-router init` and `email-router credentials`: private files, clear errors, no echoed secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from router.home import Home
from router.vault import ENV_KEY, VaultKey, load_key
from tests.unit.cli.conftest import Invoke


def test_init_creates_private_home_key_and_vault(home: Home, run: Invoke) -> None:
    result = run("init")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.key_file.stat().st_mode) == 0o600
    assert home.vault_file.exists() and home.published_dir.is_dir()
    assert "back it up" in result.output


def test_second_init_keeps_the_key(home: Home, run: Invoke) -> None:
    run("init")
    key = home.key_file.read_bytes()
    result = run("init")
    assert result.exit_code == 4 and "already exists" in result.output and "hint:" in result.output
    assert home.key_file.read_bytes() == key


def test_init_refuses_a_vault_without_its_key(home: Home, run: Invoke) -> None:
    run("init")
    home.key_file.unlink()
    result = run("init")
    assert result.exit_code == 4 and "restore the key file" in result.output
    assert not home.key_file.exists()


def test_init_with_environment_key_writes_no_key_file(home: Home, run: Invoke,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, VaultKey.generate().to_text())
    assert run("init").exit_code == 0
    assert not home.key_file.exists() and home.vault_file.exists()
    assert run("credentials", "set", "app", "--kind", "oauth_client_secret", "--stdin",
               input="s3cr3t-value\n").exit_code == 0


def test_set_prompts_without_echo_then_lists_names_and_kinds(home: Home, run: Invoke) -> None:
    run("init")
    result = run("credentials", "set", "svc", input="CONTOSO\\svc\nhidden-pass-1\nhidden-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "hidden-pass-1" not in result.output and "stored" in result.output
    assert run("credentials", "set", "app", "--kind", "oauth_client_secret", "--stdin",
               input="app-secret-2\n").exit_code == 0
    listing = run("credentials", "list").output
    assert "svc" in listing and "password" in listing and "oauth_client_secret" in listing
    assert "hidden-pass-1" not in listing and "app-secret-2" not in listing and "CONTOSO" not in listing


def test_set_rejects_empty_secret_bad_name_and_username_for_oauth(home: Home, run: Invoke) -> None:
    run("init")
    empty = run("credentials", "set", "svc", "--username", "u", "--stdin", input="\n")
    assert empty.exit_code == 2 and "empty" in empty.output
    bad = run("credentials", "set", "bad name", "--stdin", input="x\n")
    assert bad.exit_code == 2 and "not a valid credential name" in bad.output
    oauth = run("credentials", "set", "app", "--kind", "oauth_client_secret", "--username", "u",
                "--stdin", input="s3cret\n")
    assert oauth.exit_code == 2 and "--username" in oauth.output


def test_delete_and_delete_unknown(home: Home, run: Invoke) -> None:
    run("init")
    run("credentials", "set", "svc", "--username", "u", "--stdin", input="pw-123456\n")
    assert run("credentials", "delete", "svc").exit_code == 0
    missing = run("credentials", "delete", "svc")
    assert missing.exit_code == 4 and "credentials set svc" in missing.output
    assert "no credentials yet" in run("credentials", "list").output


def test_commands_before_init_say_to_run_init(home: Home, run: Invoke) -> None:
    result = run("credentials", "list")
    assert result.exit_code == 4 and "email-router init" in result.output
    assert "Traceback" not in result.output


def test_group_readable_key_is_refused(home: Home, run: Invoke) -> None:
    run("init")
    os.chmod(home.key_file, 0o644)
    result = run("credentials", "list")
    assert result.exit_code == 4 and "chmod 600" in result.output


def test_rotate_key_changes_the_key_and_keeps_credentials(home: Home, run: Invoke) -> None:
    run("init")
    run("credentials", "set", "svc", "--username", "u", "--stdin", input="pw-123456\n")
    before = load_key(home).key_id
    result = run("credentials", "rotate-key")
    assert result.exit_code == 0 and "Back up the new key" in result.output
    assert load_key(home).key_id != before
    assert "svc" in run("credentials", "list").output


def test_rotate_key_refuses_an_environment_key(home: Home, run: Invoke,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, VaultKey.generate().to_text())
    run("init")
    result = run("credentials", "rotate-key")
    assert result.exit_code == 2 and f"unset {ENV_KEY}" in result.output


def test_home_that_cannot_be_created_is_a_clear_error(tmp_path: Path, run: Invoke) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run("--home", str(blocker / "home"), "init")
    assert result.exit_code == 2 and "cannot create the home directory" in result.output
    assert "writable" in result.output and "Traceback" not in result.output


def test_empty_username_is_refused(home: Home, run: Invoke) -> None:
    run("init")
    result = run("credentials", "set", "svc", "--username", " ", "--stdin", input="pw-123456\n")
    assert result.exit_code == 2 and "user name is empty" in result.output


def test_an_oauth_certificate_credential_is_stored_from_pem_files(
        home: Home, run: Invoke, tmp_path: Path) -> None:
    from router.vault.credentials import OAuthCertificateCredential
    from router.vault.store import Vault
    from tests.support.graph_simulator import CERTIFICATE

    run("init")
    cert, key = tmp_path / "app.crt", tmp_path / "app.key"
    cert.write_text(CERTIFICATE.certificate_pem)
    key.write_text(CERTIFICATE.private_key_pem)
    cert_set = ("credentials", "set", "graph-app", "--kind", "oauth_certificate",
                "--certificate-file", str(cert))
    missing = run(*cert_set)
    assert missing.exit_code == 2 and "--private-key-file" in missing.output
    stored = run(*cert_set, "--private-key-file", str(key))
    assert stored.exit_code == 0, stored.output
    credential = Vault.open(home).get("graph-app")
    assert isinstance(credential, OAuthCertificateCredential)
    assert credential.private_key.get_secret_value() == CERTIFICATE.private_key_pem
    assert "PRIVATE KEY" not in repr(credential) and "PRIVATE KEY" not in run("credentials", "list").output
    wrong = run("credentials", "set", "pw", "--certificate-file", str(cert), "--stdin", input="x\n")
    assert wrong.exit_code == 2 and "oauth_certificate only" in wrong.output
