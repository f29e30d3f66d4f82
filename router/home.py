"""The router's home directory: the one place it keeps its key, vault, published configurations and state.

Resolution order: ``--home DIR`` on the command line, then ``EMAIL_ROUTER_HOME``, then
``$XDG_DATA_HOME/email-router`` (``~/.local/share/email-router`` when XDG_DATA_HOME is unset).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "EMAIL_ROUTER_HOME"
PRIVATE_UMASK = 0o077
"""The umask of every email-router process: what it creates is its owner's only (files 0600, dirs 0700)."""


def restrict_umask() -> None:
    """Make the process's umask ``PRIVATE_UMASK`` (the console entry point calls this first).

    Files created by libraries that take no mode (SQLite's -wal/-shm, rotated logs, sockets) then come
    out private too, whatever umask the shell or service manager gave the process.
    """
    os.umask(PRIVATE_UMASK)


def create_private(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (before SQLite or a logger opens it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


def tighten(paths: list[Path]) -> list[str]:
    """Remove group and other access from each existing directory and regular file in ``paths``.

    Symbolic links are left alone (their target may be anything). Returns one sentence per change.
    """
    changes: list[str] = []
    for path in paths:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            os.chmod(path, wanted)
            changes.append(f"{path}: mode {stat.S_IMODE(info.st_mode):04o} tightened to {wanted:04o}")
    return changes


def default_home() -> Path:
    """Return the home used when neither ``--home`` nor ``EMAIL_ROUTER_HOME`` is given."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "email-router"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the home directory chosen by the flag, the environment or the default, made absolute."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser().resolve() if env else default_home()


@dataclass(frozen=True)
class Home:
    """Named paths inside one home directory, so no module invents its own file names."""

    root: Path

    @property
    def key_file(self) -> Path:
        return self.root / "key"

    @property
    def vault_file(self) -> Path:
        return self.root / "vault.json"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def state_db(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def crm_db(self) -> Path:
        return self.root / "crm.sqlite"

    @property
    def simulator_dir(self) -> Path:
        return self.root / "simulator"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def private_paths(self) -> list[Path]:
        """The home, its directories and every file directly in them: what must be the owner's only."""
        dirs = [self.root, self.published_dir, self.log_dir]
        files = [p for d in dirs if d.is_dir() for p in sorted(d.iterdir()) if not p.is_dir()]
        return dirs + files
