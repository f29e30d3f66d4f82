"""Canary secrets planted through the CLI appear nowhere: logs, output, errors, files on disk.

Every command that touches credentials runs with the root logger at DEBUG, including the failure paths
(a profile that wrongly holds the secret, a tampered vault, a wrong key).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import Result

from router.config import load_published
from router.home import Home
from router.vault import ENV_KEY, Vault, VaultKey
from tests.unit.cli.conftest import Invoke
from tests.unit.config.test_samples import SAMPLE_CREDENTIALS, SAMPLES

CANARY_PASSWORD = "canary-PW-4d1f0e77"
CANARY_CLIENT_SECRET = "canary-CS-9b2ac531"
CANARY_USERNAME = "CONTOSO\\canary-user"
CANARIES = (CANARY_PASSWORD, CANARY_CLIENT_SECRET)


def _secret_for(kind: str) -> str:
    return CANARY_PASSWORD if kind == "password" else CANARY_CLIENT_SECRET


def _assert_clean(results: list[Result], caplog: pytest.LogCaptureFixture, home: Home) -> None:
    texts = [r.output for r in results] + [str(r.exception or "") for r in results] + [caplog.text]
    texts += [str(record.__dict__) for record in caplog.records]
    for canary in CANARIES:
        assert not any(canary in text for text in texts), canary
        for path in home.root.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path


def test_canaries_never_leak_through_the_cli(home: Home, run: Invoke, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    results = [run("init")]
    for name, kind in SAMPLE_CREDENTIALS.items():
        extra = ["--username", CANARY_USERNAME] if kind == "password" else []
        results.append(run("credentials", "set", name, "--kind", kind.value, *extra, "--stdin",
                           input=_secret_for(kind) + "\n"))
    results.append(run("credentials", "set", "prompted", input=f"u\n{CANARY_PASSWORD}\n{CANARY_PASSWORD}\n"))
    results += [run("credentials", "list"), run("profiles", "validate", str(SAMPLES)),
                run("publish", str(SAMPLES)), run("published", "list"), run("published", "show", "1"),
                run("published", "rollback", "1"), run("credentials", "rotate-key"),
                run("published", "show")]
    assert all(r.exit_code == 0 for r in results), [r.output for r in results if r.exit_code]

    # A secret pasted into a profile by mistake is reported without being echoed.
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLES, bad)
    with (bad / "onprem-send-as.toml").open("a") as handle:
        handle.write(f'password = "{CANARY_PASSWORD}"\nclient_secret = "{CANARY_CLIENT_SECRET}"\n')
    leaked = run("profiles", "validate", str(bad))
    assert leaked.exit_code == 3 and "never hold secrets" in leaked.output
    results += [leaked, run("publish", str(bad))]
    # The debug logs really were captured, so their cleanliness means something.
    assert "credential 'svc-exchange' (password) stored" in caplog.text
    assert "published version 1" in caplog.text and "home key rotated" in caplog.text
    _assert_clean(results, caplog, home)

    # The published configuration really holds the canaries, sealed.
    config = load_published(home)
    assert CANARY_CLIENT_SECRET in config.secret_values()
    assert all(c not in repr(config) for c in CANARIES)
    assert all(c not in repr(config.credential("svc-exchange")) for c in CANARIES)


def test_canaries_never_leak_from_failures(home: Home, run: Invoke, caplog: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    run("init")
    results = [run("credentials", "set", "svc", "--username", "u", "--stdin", input=CANARY_PASSWORD + "\n")]
    results.append(run("publish", str(SAMPLES)))  # fails: the other sample credentials are missing
    document = json.loads(home.vault_file.read_text())
    document["sealed"]["ciphertext"] = document["sealed"]["ciphertext"][:-4]
    home.vault_file.write_text(json.dumps(document))
    results.append(run("credentials", "list"))
    monkeypatch.setenv(ENV_KEY, VaultKey.generate().to_text())
    results.append(run("credentials", "list"))
    assert [r.exit_code for r in results] == [0, 3, 4, 4]
    assert "altered or truncated" in results[2].output and "another key" in results[3].output
    _assert_clean(results, caplog, home)


def test_vault_object_repr_and_errors_hide_secrets(home: Home, run: Invoke) -> None:
    run("init")
    run("credentials", "set", "svc", "--username", "u", "--stdin", input=CANARY_PASSWORD + "\n")
    vault = Vault.open(home)
    texts = [repr(vault), repr(vault.get("svc")), str(vault.get("svc")),
             vault.get("svc").model_dump_json()]
    assert all(CANARY_PASSWORD not in text for text in texts)
