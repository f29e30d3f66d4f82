"""The home key: created private, refused when others can read it, also taken from the environment."""

from __future__ import annotations

import os
import stat

import pytest

from router.errors import KeyFileError
from router.home import Home
from router.vault.key import ENV_KEY, VaultKey, load_key, parse_key, pending_key_file, write_new_key_file


def test_new_key_file_is_private_and_loads_back(home: Home) -> None:
    key = VaultKey.generate()
    write_new_key_file(home.key_file, key)
    assert stat.S_IMODE(home.key_file.stat().st_mode) == 0o600
    loaded = load_key(home)
    assert loaded.secret == key.secret and loaded.key_id == key.key_id


def test_existing_key_file_is_never_overwritten(home: Home) -> None:
    first = VaultKey.generate()
    write_new_key_file(home.key_file, first)
    with pytest.raises(KeyFileError, match="already exists"):
        write_new_key_file(home.key_file, VaultKey.generate())
    assert load_key(home).secret == first.secret


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(home: Home, mode: int) -> None:
    write_new_key_file(home.key_file, VaultKey.generate())
    os.chmod(home.key_file, mode)
    with pytest.raises(KeyFileError) as caught:
        load_key(home)
    assert f"mode {mode:04o}" in str(caught.value) and "chmod 600" in caught.value.hint
    assert caught.value.path == str(home.key_file)


def test_missing_key_file_says_to_run_init(home: Home) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_key(home)
    assert "email-router init" in caught.value.hint


def test_malformed_key_file_is_refused(home: Home) -> None:
    home.root.mkdir()
    home.key_file.write_text("not a key\n")
    os.chmod(home.key_file, 0o600)
    with pytest.raises(KeyFileError, match="malformed"):
        load_key(home)


def test_environment_key_wins_over_the_file(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    write_new_key_file(home.key_file, VaultKey.generate())
    env_key = VaultKey.generate()
    monkeypatch.setenv(ENV_KEY, env_key.to_text())
    loaded = load_key(home)
    assert loaded.secret == env_key.secret and loaded.source == f"${ENV_KEY}"


def test_interrupted_rotation_is_not_guessed(home: Home) -> None:
    write_new_key_file(home.key_file, VaultKey.generate())
    write_new_key_file(pending_key_file(home), VaultKey.generate())
    with pytest.raises(KeyFileError) as caught:
        load_key(home)
    assert "rotate-key" in caught.value.hint


def test_key_text_round_trips_and_repr_hides_the_secret() -> None:
    key = VaultKey.generate()
    assert parse_key(key.to_text(), source="test").secret == key.secret
    assert key.to_text() not in repr(key) and key.to_text().split(":")[1] not in repr(key)
    assert key.derive("vault") != key.derive("publish-mac")
    with pytest.raises(KeyFileError):
        parse_key("email-router-key-1:c2hvcnQ=", source="test")
