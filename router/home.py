"""The router's home directory: the one place it keeps its key, vault, published configurations and state.

Resolution order: ``--home DIR`` on the command line, then ``EMAIL_ROUTER_HOME``, then
``$XDG_DATA_HOME/email-router`` (``~/.local/share/email-router`` when XDG_DATA_HOME is unset).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "EMAIL_ROUTER_HOME"


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
