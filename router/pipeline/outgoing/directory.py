"""Which CRM mailbox a lane sends for: Load Data, read once per published version and deployment.

``background_send`` asks for the e-mails of CRM mailbox ids, while a lane knows its mailbox by address
(and, when the binding says so, by the user's or queue's CRM id). ``MailboxDirectory`` reads the CRM's
router mailboxes with one Load Data call per (published version, deployment), shared by every lane of
that deployment, and reads them again after ConfigUpdatePeriod, as the legacy router re-read users' and
queues' settings, so a mailbox the CRM adds or approves later is found without a new publish.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from uuid import UUID

from router.clock import Clock
from router.config.profileset import MailboxAssignment
from router.config.published import PublishedConfig
from router.crm.gateway import CrmGateway, MailboxInfo


@dataclass(frozen=True)
class _Loaded:
    """One Load Data answer and when (monotonic seconds) it was read."""

    at: float
    mailboxes: tuple[MailboxInfo, ...]


class MailboxDirectory:
    """Load Data per (published version, deployment), cached; thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cache: dict[tuple[int, str], _Loaded] = {}
        self._lock = threading.Lock()

    def find(self, gateway: CrmGateway, config: PublishedConfig,
             assignment: MailboxAssignment) -> MailboxInfo | None:
        """Return the CRM mailbox of ``assignment``: by CRM id when the binding gives one, else by address."""
        mailboxes = self._mailboxes(gateway, config, assignment.deployment)
        return match(mailboxes, assignment.address, assignment.crm_id)

    def _mailboxes(self, gateway: CrmGateway, config: PublishedConfig,
                   deployment: str) -> tuple[MailboxInfo, ...]:
        key = (config.version, deployment)
        refresh = config.profiles.settings.config_update_period_seconds
        with self._lock:
            loaded = self._cache.get(key)
            if loaded is None or self._clock.monotonic() - loaded.at >= refresh:
                # One lane reads while the others of the deployment wait for its answer: a single Load
                # Data call serves them all.
                loaded = _Loaded(self._clock.monotonic(), gateway.load_data())
                self._cache = {k: v for k, v in self._cache.items() if k[1] != deployment or k[0] > key[0]}
                self._cache[key] = loaded
            return loaded.mailboxes


def match(mailboxes: tuple[MailboxInfo, ...], address: str, crm_id: UUID | None) -> MailboxInfo | None:
    """The mailbox owned by the record ``crm_id`` if given, else the one with ``address`` (any case)."""
    if crm_id is not None:
        wanted = str(crm_id).lower()
        return next((m for m in mailboxes if m.owner.id.lower() == wanted), None)
    lowered = address.strip().lower()
    return next((m for m in mailboxes if m.address.strip().lower() == lowered), None)
