"""Hot reload: notice a newly published configuration, verify it, and hand it to the service.

``ConfigWatcher.check`` lists the published versions (cheap: no file is opened) and, when the newest
is not the running one, loads it, which verifies its integrity tag and models, and opens its sealed
credentials; only then is it handed to ``apply``. A version that fails any of this, or that ``apply``
refuses with a ``RouterError``, is reported once as an error and the running configuration stays;
the watcher tries again only when another version is published. The background thread (``start``, a
``Periodic``) checks every ConfigRefreshPeriod, read afresh from the running configuration each time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from router.config.published import (
    PublishedConfig,
    latest_version,
    load_published,
    missing_newest,
    rolled_back_error,
)
from router.errors import PublishedConfigError, RouterError
from router.home import Home
from router.service.periodic import Periodic

log = logging.getLogger(__name__)

Loader = Callable[[Home, int], PublishedConfig]
Apply = Callable[[PublishedConfig], object]


class ReloadKind(StrEnum):
    """What one check found."""

    UNCHANGED = "unchanged"
    APPLIED = "applied"
    REFUSED = "refused"


@dataclass(frozen=True)
class ReloadOutcome:
    """One check: what happened, the version concerned, the version running before, and why refused."""

    kind: ReloadKind
    version: int | None
    previous: int | None
    error: BaseException | None = None


def _load(home: Home, version: int) -> PublishedConfig:
    return load_published(home, version)


class ConfigWatcher:
    """Applies each newly published version once; refuses broken ones and keeps the running one."""

    def __init__(self, home: Home, apply: Apply, *, current: int | None, loader: Loader = _load) -> None:
        self._home = home
        self._apply = apply
        self._loader = loader
        self._lock = threading.Lock()
        self._periodic: Periodic | None = None
        self.current = current
        self.refused: int | None = None
        self._reported_gone: int | None = None

    def check(self) -> ReloadOutcome:
        """Look for a new version once; apply it or refuse it (see the module docstring)."""
        with self._lock:
            previous = self.current
            try:
                latest = latest_version(self._home)
            except OSError as exc:
                error = PublishedConfigError(f"the published configurations cannot be listed: {exc}",
                                             path=str(self._home.published_dir))
                log.error("%s; the running configuration stays", error)
                return ReloadOutcome(ReloadKind.REFUSED, None, previous, error)
            rolled_back = self._rolled_back(latest, previous)
            if rolled_back is not None:
                return rolled_back
            if latest is None or latest in (previous, self.refused):
                return ReloadOutcome(ReloadKind.UNCHANGED, previous, previous)
            return self._take(latest, previous)

    def _rolled_back(self, latest: int | None, previous: int | None) -> ReloadOutcome | None:
        """Refuse (and report once) a newest version that went away: never fall back silently."""
        recorded = missing_newest(self._home)
        if recorded is None and (latest is None or previous is None or latest >= previous):
            return None
        gone = recorded if recorded is not None else previous
        error = rolled_back_error(self._home, gone or 0)
        if self._reported_gone != gone:
            self._reported_gone = gone
            log.error("%s; version %s keeps running", error, previous)
        return ReloadOutcome(ReloadKind.REFUSED, latest, previous, error)

    def _take(self, version: int, previous: int | None) -> ReloadOutcome:
        try:
            config = self._loader(self._home, version)
            config.secret_values()  # Opens the sealed credentials: a damaged block is refused here.
            self._apply(config)
        except Exception as exc:  # Whatever breaks, the running configuration must stay in service.
            self.refused = version
            if isinstance(exc, RouterError):
                log.error("published configuration version %d refused; version %s keeps running: %s",
                          version, previous, exc)
            else:
                log.exception("published configuration version %d could not be applied; version %s "
                              "keeps running", version, previous)
            return ReloadOutcome(ReloadKind.REFUSED, version, previous, exc)
        self.current, self.refused = version, None
        log.info("configuration version %d applied (was %s)", version, previous)
        return ReloadOutcome(ReloadKind.APPLIED, version, previous)

    def start(self, period: Callable[[], float]) -> None:
        """Check every ``period()`` seconds on a background thread until ``stop``."""
        if self._periodic is not None:
            raise RuntimeError("the configuration watcher is already running")
        self._periodic = Periodic("config-watcher", self.check, period)
        self._periodic.start()

    @property
    def alive(self) -> bool:
        """True while the background thread runs."""
        return self._periodic is not None and self._periodic.alive

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread (a check in progress finishes first, waited up to ``timeout``)."""
        if self._periodic is not None:
            self._periodic.stop(timeout)
