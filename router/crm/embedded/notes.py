"""Notes (annotations) on activities: how the CRM tells a user what happened to an e-mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from router.crm.embedded import rows
from router.crm.embedded.schema import annotation


def add_note(conn: Connection, now: datetime, activity_id: str, subject: str, text: str) -> str:
    """Attach a note to the e-mail ``activity_id``; return the note's id."""
    return rows.insert(
        conn,
        annotation,
        {"objectid": activity_id, "objecttypecode": "email", "subject": subject[:500], "notetext": text},
        now,
    )
