"""Where this home's state lives: the home's SQLite file, or the PostgreSQL database the settings name.

``[settings] state_store`` (a ``postgresql://host/database`` URL without a password) moves the state to
a server several router instances share; the user name and password come from the vault credential
``state_store_credential`` of the published configuration, so no secret is ever in a profile or a URL
that is shown. The latest published version decides; a home with nothing published uses SQLite.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from router.clock import Clock
from router.config.published import PublishedConfig, latest_version, load_published
from router.config.settings import SystemSettings
from router.home import Home
from router.state import StateStore, sqlite_url
from router.vault.credentials import PasswordCredential


def latest_config(home: Home) -> PublishedConfig | None:
    """The latest published configuration of ``home``, or None when nothing has been published."""
    return load_published(home) if latest_version(home) is not None else None


def configured_url(home: Home, config: PublishedConfig | None) -> URL:
    """The state database URL of ``home`` under ``config``, with its password when it has one."""
    settings = config.profiles.settings if config is not None else SystemSettings()
    if config is None or settings.state_store is None:
        return make_url(sqlite_url(home.state_db))
    return with_credential(make_url(settings.state_store), config, settings.state_store_credential)


def with_credential(url: URL, config: PublishedConfig, name: str | None) -> URL:
    """``url`` logging in with the password credential ``name`` of ``config`` (unchanged without one)."""
    if name is None:
        return url
    credential = config.credential(name)
    if not isinstance(credential, PasswordCredential):
        return url
    return url.set(username=credential.username, password=credential.password.get_secret_value())


def shares_state(config: PublishedConfig | None) -> bool:
    """True when the state lives in a shared database rather than the home's SQLite file."""
    return config is not None and config.profiles.settings.state_store is not None


def open_configured_store(home: Home, clock: Clock, config: PublishedConfig | None = None, *,
                          upgrade: bool | None = None) -> StateStore:
    """Open the state store the latest published configuration (or ``config``) names for ``home``."""
    chosen = config if config is not None else latest_config(home)
    return StateStore.open(configured_url(home, chosen), clock, upgrade=upgrade)
