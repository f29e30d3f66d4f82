"""`email-router state migrate` (in place and --to PostgreSQL) and the `state_store` setting end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from router.clock import FrozenClock, SystemClock
from router.config import publish
from router.home import Home
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.state import Direction, DirectoryRow, StateStore
from router.state.copy import state_tables
from router.state.instances import RunIdentity
from router.vault import PasswordCredential, Vault, VaultKey, write_new_key_file
from tests.unit.cli.conftest import Invoke
from tests.unit.config.conftest import BASE_FILES, write_profiles

CLOCK = FrozenClock(datetime(2026, 4, 1, 9, 30, tzinfo=UTC))
CANARY = "canary-StateStore-7c1a"


def _seed(store: StateStore, n: int) -> None:
    """Rows in every state table: ledger, sync states, decisions, quarantine, sends, health, alerts."""
    for i in range(n):
        mailbox = f"m{i % 3}@x.test"
        store.ledger.claim(mailbox, f"key-{i}", owner="seed", item_id=f"item-{i}")
        store.trail.record(direction=Direction.INCOMING, mailbox=mailbox, message_key=f"key-{i}",
                           stage="screen", result="accepted", internet_message_id=f"<{i}@x.test>")
        store.sends.claim(mailbox, f"email-{i}", owner="seed", message_id=f"<out-{i}@x.test>")
    store.quarantine.add(mailbox="m0@x.test", message_key="key-0", stage="deliver", reason_code="crm",
                         reason="the CRM refused it", mime=b"Subject: x\r\n\r\nbody")
    store.sync.save_state("m0@x.test", "inbox", "SYNC-STATE-1")
    store.sync.set_process_from("m0@x.test", CLOCK.now())
    store.alerts.raise_alert("mailbox_failing", "it failed", mailbox="m1@x.test")
    store.health.record_success("m1@x.test", Direction.INCOMING)
    store.directory.replace([DirectoryRow("m1@x.test", Direction.INCOMING, "main", "user", "both", True, "",
                                          "in", None, 1, CLOCK.now())])


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    with StateStore.open(url, CLOCK) as store, store.db.read() as conn:
        return {t.name: [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in state_tables()}


@pytest.fixture
def published_home(home: Home, tmp_path: Path) -> Path:
    """A home with a key, the credential the base profiles need and a profiles directory to publish."""
    write_new_key_file(home.key_file, VaultKey.generate())
    Vault.open(home).set("svc", PasswordCredential(username="svc", password=SecretStr("x")))
    Vault.open(home).set("statedb", PasswordCredential(username="postgres", password=SecretStr(CANARY)))
    return write_profiles(tmp_path / "profiles", BASE_FILES)


def test_migrate_to_postgresql_copies_every_row(home: Home, run: Invoke, postgres_url: str) -> None:
    with StateStore.open_home(home, CLOCK) as store:
        _seed(store, 25)
    before = _rows(f"sqlite:///{home.state_db}")
    assert all(before.values()), {name: len(rows) for name, rows in before.items()}
    result = run("state", "migrate", "--to", postgres_url)
    assert result.exit_code == 0, result.output
    assert "incoming_ledger: 25 rows" in result.output and "state_store" in result.output
    assert _rows(postgres_url) == before
    # New rows in the target get fresh ids after the copied ones.
    with StateStore.open(postgres_url, CLOCK) as store:
        assert store.ledger.claim("new@x.test", "k", owner="o").entry.id > 25
    again = run("state", "migrate", "--to", postgres_url)
    assert again.exit_code == 5 and "already holds state" in again.output


def test_migrate_refuses_a_password_in_the_url(home: Home, run: Invoke) -> None:
    with StateStore.open_home(home, CLOCK):
        pass
    result = run("state", "migrate", "--to", f"postgresql://u:{CANARY}@db.example/router")
    assert result.exit_code == 2 and "must not contain a password" in result.output
    assert CANARY not in result.output


def test_published_state_store_is_used_by_every_command(home: Home, run: Invoke, published_home: Path,
                                                        postgres_url: str) -> None:
    bare = postgres_url.replace("postgres:@", "").replace("postgres@", "")
    (published_home / "settings.toml").write_text(
        f'[settings]\nstate_store = "{bare}"\nstate_store_credential = "statedb"\n')
    publish(home, published_home, clock=CLOCK)
    assert run("state", "migrate").exit_code == 0
    with StateStore.open(postgres_url, SystemClock()) as store:
        store.alerts.raise_alert("backlog", "stuck", mailbox="m@x.test")
        store.instances.register(RunIdentity.new("router-a"), "host-a", 4242)
        store.ledger.claim("m@x.test", "k1", owner="router-a/x:1:m@x.test")
    result = run("status")
    assert "stuck" in result.output and "Router instances" in result.output, result.output
    assert "router-a" in result.output and "running" in result.output and "Backlog" in result.output
    document = json.loads(run("status", "--json").output)
    [instance] = document["instances"]
    assert (instance["instance"], instance["host"], instance["pid"], instance["state"]) == (
        "router-a", "host-a", 4242, "running")
    [backlog] = document["backlogs"]
    assert (backlog["mailbox"], backlog["direction"], backlog["unfinished"]) == ("m@x.test", "incoming", 1)
    with Resources(home, CLOCK, Metrics()) as resources:
        assert not resources.store.db.is_sqlite and CANARY not in resources.store.db.url
    assert not home.state_db.exists()


def test_an_unreachable_state_database_names_host_and_database(home: Home, run: Invoke,
                                                               published_home: Path) -> None:
    (published_home / "settings.toml").write_text(
        '[settings]\nstate_store = "postgresql://127.0.0.1:9/routerstate"\n'
        'state_store_credential = "statedb"\n')
    publish(home, published_home, clock=CLOCK)
    for command in (["status"], ["state", "migrate"], ["run", "--status-port", "0", "--no-log-stderr"]):
        result = run(*command)
        assert result.exit_code == 5, result.output
        assert "'routerstate' on host 127.0.0.1:9" in result.output and "PostgreSQL server" in result.output
        assert CANARY not in result.output


def test_a_state_store_url_with_a_password_is_refused_by_validation(home: Home, run: Invoke,
                                                                    published_home: Path) -> None:
    (published_home / "settings.toml").write_text(f'[settings]\nstate_store = "postgresql://u:{CANARY}@h/db"\n')
    result = run("profiles", "validate", str(published_home))
    assert result.exit_code == 3 and "must not contain a password" in result.output
    assert CANARY not in result.output
    (published_home / "settings.toml").write_text('[settings]\nstate_store_credential = "nosuch"\n')
    result = run("profiles", "validate", str(published_home))
    assert result.exit_code == 3 and "settings.state_store_credential" in result.output, result.output
