"""The soak's traffic: inbound messages for the simulator, outbound e-mails for the CRM, fed over time.

``Traffic`` plans every message up front (a seeded random source picks mailboxes and sizes, so a run
can be repeated) and feeds them in slices: ``feed(fraction)`` brings the injected and composed counts
up to ``fraction`` of the total. Each inbound message has a unique Message-ID and each outbound
e-mail a unique marker in its subject, which is what the audit counts by.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from router.crm.embedded import Draft, EmbeddedCrm
from router.crm.gateway import RecordRef
from router.harness.messages import SIZES, Envelope, build_message
from router.harness.org import Person
from router.harness.simprocess import SimulatorProcess


@dataclass(frozen=True)
class Inbound:
    """One planned inbound message."""

    mailbox: str
    message_id: str
    size: int
    seed: int


@dataclass(frozen=True)
class Outbound:
    """One planned CRM e-mail; ``marker`` is unique and survives the tracking token in the subject."""

    sender: str
    recipient: str
    marker: str


@dataclass
class Traffic:
    """Planned traffic and how much of it has been fed; see the module docstring."""

    inbound: list[Inbound]
    outbound: list[Outbound]
    records: dict[str, RecordRef]
    injected: int = 0
    composed: int = 0
    email_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def plan(cls, people: list[Person], records: dict[str, RecordRef], inbound: int, outbound: int,
             seed: int) -> Traffic:
        rng = random.Random(seed)
        sizes = list(SIZES.values())
        ins = [Inbound(rng.choice(people).address, f"<soak-in-{i}@fabrikam.com>", rng.choice(sizes), i)
               for i in range(inbound)]
        outs = [Outbound(rng.choice(people).address, f"customer{i % 97}@fabrikam.com", f"SOAK-OUT-{i:06d}")
                for i in range(outbound)]
        return cls(ins, outs, records)

    @property
    def inbound_done(self) -> bool:
        return self.injected == len(self.inbound)

    @property
    def outbound_done(self) -> bool:
        return self.composed == len(self.outbound)

    def feed(self, inbound: float, outbound: float, sim: SimulatorProcess, crm_db: Path, *,
             most: int | None = None) -> None:
        """Inject and compose until the given fractions (0..1) of each kind have been fed (at most
        ``most`` of each kind in this call)."""
        for message in _due(self.inbound, self.injected, inbound, most):
            env = Envelope(f"customer{message.seed % 97}@fabrikam.com", message.mailbox,
                           f"Soak inbound {message.seed}", message.message_id)
            sim.inject(message.mailbox, build_message(env, message.size, seed=message.seed))
            self.injected += 1
        due = _due(self.outbound, self.composed, outbound, most)
        if due:
            with EmbeddedCrm(crm_db) as crm:
                for email in due:
                    draft = Draft(sender=self.records[email.sender], subject=f"Quote {email.marker}",
                                  body=f"<p>Soak e-mail {email.marker}.</p>", to=(email.recipient,))
                    email_id = crm.create_draft(draft)
                    crm.send_email(None, email_id)
                    self.email_ids[email.marker] = email_id
                    self.composed += 1


_Item = TypeVar("_Item")


def _due(planned: list[_Item], fed: int, fraction: float, most: int | None) -> list[_Item]:
    """The planned items after the ``fed`` first, up to ``fraction`` of all (and at most ``most``)."""
    end = round(min(1.0, fraction) * len(planned))
    if most is not None:
        end = min(end, fed + most)
    return planned[fed:end]
