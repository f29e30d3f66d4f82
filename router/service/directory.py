"""The mailbox directory: the one place the service learns which mailboxes to serve.

``MailboxDirectory.resolve(config)`` asks each deployment's CRM for its Load Data (through the
``CrmSource``, normally ``Resources.gateway``), merges it with the published bindings
(``roster.build_roster``) and keeps the result as the current ``DirectoryView``. The service resolves
at every applied configuration and every ConfigUpdatePeriod (legacy: user and queue settings re-read
from the CRM hourly).

When a CRM cannot answer, the deployment's last good Load Data is used, or, before any, its published
bindings as they are; an alert (kind ``crm_load_data:<deployment>``) is raised and resolved once the CRM
answers again. Without a CRM source (tools and tests that have no CRM) the published bindings are served
as they are. With a state store, each resolved directory is written to it for `email-router status`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from router.clock import Clock
from router.config.profile import Direction
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.gateway import CrmGateway, MailboxInfo
from router.errors import RouterError
from router.service.roster import Roster, RosterEntry, build_roster
from router.state import NO_MAILBOX, DirectoryRow, StateStore
from router.state import Direction as StateDirection

log = logging.getLogger(__name__)

CrmSource = Callable[[PublishedConfig, str], CrmGateway]
"""Opens (or returns the already open) gateway of a deployment of a configuration; never closed here."""

LOAD_DATA_ALERT = "crm_load_data"


@dataclass(frozen=True)
class DirectoryView:
    """One resolved directory: the configuration it was resolved for, the roster, and the CRM's answers.

    ``infos`` holds the Load Data row of every CRM mailbox by lower-cased address; ``crm_errors`` says,
    per deployment, why its Load Data failed this time (its last good answer, if any, was used).
    ``crm_answered`` is True when every deployment's CRM answered this time.
    """

    config: PublishedConfig
    roster: Roster
    resolved_at: datetime
    infos: dict[str, MailboxInfo] = field(default_factory=dict)
    crm_errors: dict[str, str] = field(default_factory=dict)
    crm_answered: bool = True

    @property
    def assignments(self) -> tuple[MailboxAssignment, ...]:
        """The served mailboxes."""
        return self.roster.assignments

    def assignment(self, mailbox: str) -> MailboxAssignment | None:
        """The served mailbox ``mailbox`` (any case), if served."""
        return self.roster.assignment(mailbox)

    def info(self, mailbox: str) -> MailboxInfo | None:
        """The CRM's Load Data row for ``mailbox``, if the CRM listed it."""
        return self.infos.get(mailbox.strip().lower())

    def served(self) -> set[str]:
        """Lower-cased addresses of every mailbox with at least one served direction."""
        return {a.address.lower() for a in self.roster.assignments}


class MailboxDirectory:
    """Resolves and keeps the mailbox directory; thread-safe. See the module docstring."""

    def __init__(self, source: CrmSource | None = None, *, store: StateStore | None = None,
                 clock: Clock) -> None:
        self._source = source
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._resolving = threading.Lock()
        self._last_good: dict[str, tuple[MailboxInfo, ...]] = {}
        self._current: DirectoryView | None = None

    def current(self) -> DirectoryView | None:
        """The directory last resolved (None before the first ``resolve``)."""
        with self._lock:
            return self._current

    def resolve(self, config: PublishedConfig, *, ignore_enabled: bool = False) -> DirectoryView:
        """Ask the CRMs, merge, keep and store the directory of ``config``; see the module docstring.

        ``ignore_enabled``: see ``build_roster`` (Test Access resolves a directory of its own this way).
        """
        with self._resolving:
            loaded: dict[str, Sequence[MailboxInfo] | None] = {}
            errors: dict[str, str] = {}
            for deployment in config.profiles.deployments:
                loaded[deployment], error = self._load(config, deployment)
                if error is not None:
                    errors[deployment] = error
            roster = build_roster(config.profiles, loaded, ignore_enabled=ignore_enabled)
            infos = {i.address.lower(): i for rows in loaded.values() if rows for i in rows}
            answered = self._source is None or not errors
            view = DirectoryView(config, roster, self._clock.now(), infos, errors, answered)
            with self._lock:
                self._current = view
            self._save(view)
            return view

    def _load(self, config: PublishedConfig,
              deployment: str) -> tuple[Sequence[MailboxInfo] | None, str | None]:
        """Load Data of one deployment, or its fallback and why it was needed."""
        if self._source is None:
            return None, None
        try:
            infos = tuple(self._source(config, deployment).load_data())
        except RouterError as exc:
            fallback = self._last_good.get(deployment)
            reason = (f"Load Data of deployment {deployment!r} failed: {exc.message}; serving "
                      + ("its last good answer" if fallback is not None else "its published bindings"))
            log.error("%s", reason)
            self._alert(deployment, reason)
            return fallback, reason
        self._last_good[deployment] = infos
        self._recovered(deployment)
        return infos, None

    def _alert(self, deployment: str, text: str) -> None:
        if self._store is not None:
            self._store.alerts.raise_alert(f"{LOAD_DATA_ALERT}:{deployment}", text, mailbox=NO_MAILBOX)

    def _recovered(self, deployment: str) -> None:
        if self._store is not None and self._store.alerts.resolve(f"{LOAD_DATA_ALERT}:{deployment}",
                                                                  mailbox=NO_MAILBOX) is not None:
            log.warning("Load Data of deployment %r answers again", deployment)

    def _save(self, view: DirectoryView) -> None:
        if self._store is None:
            return
        rows = [_row(e, view) for e in view.roster.entries]
        try:
            self._store.directory.replace(rows)
        except RouterError as exc:  # The directory is still served; only `status` misses the update.
            log.error("the mailbox directory could not be saved for `email-router status`: %s", exc)


def _row(entry: RosterEntry, view: DirectoryView) -> DirectoryRow:
    return DirectoryRow(mailbox=entry.mailbox, direction=_state_direction(entry.direction),
                        deployment=entry.deployment, role=entry.role.value, source=entry.source.value,
                        served=entry.served, reason=entry.reason, profile=entry.profile,
                        crm_mailbox_id=entry.crm_mailbox_id, config_version=view.config.version,
                        refreshed_at=view.resolved_at)


def _state_direction(direction: Direction) -> StateDirection:
    return StateDirection(direction.value)
