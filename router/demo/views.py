"""What the demo shows: what each recipient saw, and what landed in the CRM, read from the stores.

``seen`` reads the simulator's outbound journal (what an external recipient's server received,
headers included); ``landed`` reads the embedded CRM's incoming e-mails and the e-mail each one was
correlated to. Both render as rich tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import parseaddr
from typing import Any

from rich.table import Table
from sqlalchemy import RowMapping

from router.crm.codes import CorrelationMethod
from router.crm.embedded import EmbeddedCrm


@dataclass(frozen=True)
class Seen:
    """One message a CRM user sent, as its (external) recipient received it."""

    right: str
    recipient: str
    subject: str
    from_: str
    sender: str | None

    @property
    def shown_as(self) -> str:
        """How Outlook renders the sender line: "X on behalf of Y" when Sender differs from From."""
        if self.sender and parseaddr(self.sender)[1].lower() != parseaddr(self.from_)[1].lower():
            return f"{_display(self.sender)} on behalf of {_display(self.from_)}"
        return _display(self.from_)


@dataclass(frozen=True)
class Landed:
    """One incoming e-mail in the CRM, and the CRM e-mail it was correlated to (if any)."""

    sender: str
    recipients: str
    subject: str
    correlated_to: str | None
    correlation: str


def _display(address: str) -> str:
    name, addr = parseaddr(address)
    return f"{name} <{addr}>" if name else addr


def journal_headers(entry: dict[str, Any]) -> dict[str, str]:
    """The headers of one journal entry's MIME (first value of each)."""
    message = BytesHeaderParser(policy=default).parsebytes(entry["mime"].encode("utf-8", "replace"))
    return {name.lower(): str(message[name]) for name in set(message.keys())}


def seen(journal: list[dict[str, Any]], rights: dict[str, str]) -> list[Seen]:
    """What each recipient received; ``rights`` maps the From address to the right the router used."""
    found = []
    for entry in journal:
        headers = journal_headers(entry)
        author = parseaddr(headers.get("from", ""))[1].lower()
        for recipient in entry["recipients"]:
            found.append(Seen(rights.get(author, "?"), recipient, headers.get("subject", ""),
                              headers.get("from", ""), headers.get("sender")))
    return found


def landed(crm: EmbeddedCrm) -> list[Landed]:
    """The CRM's incoming e-mails, oldest first, with the subject of the e-mail each one answers."""
    rows: list[RowMapping] = list(reversed(crm.emails(incoming=True, limit=200)))
    result = []
    for row in rows:
        parent = crm.email(row["parentactivityid"]).row["subject"] if row["parentactivityid"] else None
        result.append(Landed(row["sender"] or "", row["torecipients"] or "", row["subject"], parent,
                             CorrelationMethod(row["correlationmethod"] or 0).name.lower().replace("_", "-")))
    return result


def seen_table(rows: list[Seen]) -> Table:
    table = Table(title="What each recipient saw (from the simulator's outbound journal)",
                  title_justify="left")
    for name in ("right", "recipient", "subject", "From:", "Sender:", "shown as"):
        table.add_column(name)
    for s in rows:
        table.add_row(s.right, s.recipient, s.subject, s.from_, s.sender or "(none)", s.shown_as)
    return table


def landed_table(rows: list[Landed]) -> Table:
    table = Table(title="What landed in the CRM (incoming e-mail activities)", title_justify="left")
    for name in ("from", "to", "subject", "correlated to", "how"):
        table.add_column(name)
    for x in rows:
        table.add_row(x.sender, x.recipients, x.subject, x.correlated_to or "-", x.correlation)
    return table
