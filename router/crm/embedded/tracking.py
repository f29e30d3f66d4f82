"""Tracking tokens: ``prefix + base + user number + counter``, e.g. ``CRM:0001001``.

The user number is the sending user's; the counter is that user's own and wraps after
``10 ** counter_digits - 1`` (999 -> 000 with the default three digits), as Dynamics' does. Former
prefixes stay recognised in incoming subjects so that replies to old mail still correlate.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, select
from sqlalchemy import update as sql_update

from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.schema import systemuser


def format_token(org: OrgSettings, user_number: int, counter: int) -> str:
    """Return the token for ``user_number`` and ``counter`` under the organisation's settings."""
    user = user_number % 10**org.user_digits
    count = counter % 10**org.counter_digits
    return f"{org.tracking_prefix}{org.token_base}{user:0{org.user_digits}d}{count:0{org.counter_digits}d}"


def find_tokens(org: OrgSettings, subject: str) -> list[str]:
    """Return every token-shaped string in ``subject`` under the current or a former prefix."""
    found: list[str] = []
    for prefix in org.all_prefixes:
        found.extend(re.findall(re.escape(prefix) + r"\d+", subject, flags=re.IGNORECASE))
    return found


def strip_tokens(org: OrgSettings, subject: str) -> str:
    """Return ``subject`` without its tracking tokens."""
    for prefix in org.all_prefixes:
        subject = re.sub(re.escape(prefix) + r"\d+", " ", subject, flags=re.IGNORECASE)
    return subject


def with_token(subject: str, token: str) -> str:
    """Return ``subject`` with ``token`` appended, unless it already carries it."""
    if token.lower() in subject.lower():
        return subject
    return f"{subject.rstrip()} {token}".strip()


def next_token(conn: Connection, org: OrgSettings, user_id: str | None) -> str:
    """Advance ``user_id``'s counter and return its next token (user number 0 when there is no user)."""
    if user_id is None:
        return format_token(org, 0, 1)
    row = conn.execute(
        select(systemuser.c.trackingusernumber, systemuser.c.trackingcounter).where(
            systemuser.c.systemuserid == user_id
        )
    ).one()
    counter = (row.trackingcounter + 1) % 10**org.counter_digits
    conn.execute(
        sql_update(systemuser).where(systemuser.c.systemuserid == user_id).values(trackingcounter=counter)
    )
    return format_token(org, row.trackingusernumber, counter)
