"""Every file the router creates is its owner's only, whatever the umask (issue #14, case 8): the state
and CRM databases with their -wal/-shm, the log and its rotations, and `init` tightens a home that
others can read."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.clock import FrozenClock
from router.crm.embedded import EmbeddedCrm
from router.home import Home
from router.service.logs import _open_file_handler
from router.state import StateStore
from tests.unit.cli.conftest import Invoke
from tests.unit.cli.conftest import run as run  # the `run` fixture


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most shells give: files 0644, directories 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_and_crm_databases_and_their_wal_files_are_private(loose_umask: None, home: Home) -> None:
    with StateStore.open_home(home, FrozenClock(datetime(2026, 3, 2, tzinfo=UTC))), \
            EmbeddedCrm(home.crm_db) as crm:
        with crm.writing() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS mode_probe (x INTEGER)")
        files = sorted(home.root.glob("*.sqlite*"))
        names = {p.name for p in files}
        assert {"state.sqlite", "crm.sqlite"} <= names and any(n.endswith("-wal") for n in names), names
        assert {p.name: f"{mode(p):04o}" for p in files} == {p.name: "0600" for p in files}


def test_the_log_and_every_rotated_log_are_private(loose_umask: None, tmp_path: Path) -> None:
    path = tmp_path / "logs" / "email-router.log"
    handler = _open_file_handler(path, max_bytes=200, backups=3)
    try:
        for n in range(20):
            record = logging.LogRecord("t", logging.ERROR, __file__, 1, "line %d " + "x" * 60, (n,), None)
            handler.emit(record)
    finally:
        handler.close()
    logs = sorted(path.parent.iterdir())
    assert len(logs) == 4
    assert {p.name: f"{mode(p):04o}" for p in logs} == {p.name: "0600" for p in logs}
    assert mode(path.parent) == 0o700


def test_init_tightens_an_existing_home_that_others_can_read(loose_umask: None, home: Home,
                                                              run: Invoke) -> None:
    home.root.mkdir(mode=0o755)
    (home.root / "state.sqlite").write_bytes(b"")
    os.chmod(home.root / "state.sqlite", 0o644)
    result = run("init")
    assert result.exit_code == 0, result.output
    assert "tightened" in result.output and "0755 tightened to 0700" in result.output
    assert mode(home.root) == 0o700 and mode(home.root / "state.sqlite") == 0o600


def test_the_command_line_creates_private_files_under_a_loose_umask(tmp_path: Path) -> None:
    root = tmp_path / "home"
    env = {**os.environ, "EMAIL_ROUTER_HOME": str(root)}
    env.pop("EMAIL_ROUTER_KEY", None)
    command = f"umask 022 && exec {sys.executable} -m router init && {sys.executable} -c 1"
    subprocess.run(["sh", "-c", command], env=env, check=True, capture_output=True, timeout=120)
    made = [root, *root.rglob("*")]
    loose = [f"{p}: {mode(p):04o}" for p in made if mode(p) & 0o077]
    assert len(made) >= 3 and loose == []
