"""Smart matching's subject keys: an index of every e-mail by the subject smart matching compares.

Smart matching (``correlation``) looks for earlier e-mails whose subject, once tracking tokens and
``RE:``/``FW:`` prefixes are stripped, whitespace collapsed and case folded (``normalize_subject``),
equals the incoming one's. That normal form is computed in Python under the organisation's token
prefixes, so no SQL expression index can hold it; without an index every incoming message scanned every
e-mail. ``email_subject_key`` (like Dynamics' own e-mail hash table, not an entity of the Web API) keeps
it per e-mail, indexed, so finding the candidates is one keyed lookup whatever the number of e-mails.

Keys are kept right by SQLite triggers, whoever writes the e-mail (incoming delivery, an outgoing
draft, the Web API facade, a tool): inserting an e-mail or changing its subject leaves its key NULL
("to compute"), deleting it drops the key, and changing the organisation's token prefixes turns every
key back to NULL (the normal form depends on them). ``refresh`` computes the NULL keys; ``candidates``
reads the e-mails whose key is the wanted one *or NULL*, and smart matching checks each candidate's
subject itself, so a key not yet computed can delay nothing and mislead nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, bindparam, or_, select, update

from router.crm.embedded.rows import rowid
from router.crm.embedded.schema import email, email_subject_key

_TRIGGERS = (
    # A new e-mail's key is computed later (``refresh``): the trigger cannot run Python.
    """CREATE TRIGGER IF NOT EXISTS email_subject_key_insert AFTER INSERT ON email BEGIN
        INSERT OR REPLACE INTO email_subject_key (activityid, subjectkey) VALUES (new.activityid, NULL);
    END""",
    """CREATE TRIGGER IF NOT EXISTS email_subject_key_update AFTER UPDATE OF subject ON email
        WHEN old.subject IS NOT new.subject BEGIN
        INSERT OR REPLACE INTO email_subject_key (activityid, subjectkey) VALUES (new.activityid, NULL);
    END""",
    """CREATE TRIGGER IF NOT EXISTS email_subject_key_delete AFTER DELETE ON email BEGIN
        DELETE FROM email_subject_key WHERE activityid = old.activityid;
    END""",
    # The normal form strips tokens of the current and every former prefix: new prefixes, new keys.
    """CREATE TRIGGER IF NOT EXISTS email_subject_key_prefixes
        AFTER UPDATE OF trackingprefix, previoustrackingprefixes ON organization
        WHEN old.trackingprefix IS NOT new.trackingprefix
          OR old.previoustrackingprefixes IS NOT new.previoustrackingprefixes BEGIN
        UPDATE email_subject_key SET subjectkey = NULL;
    END""",
)

_BACKFILL = (
    "INSERT INTO email_subject_key (activityid, subjectkey) SELECT activityid, NULL FROM email WHERE true "
    "ON CONFLICT (activityid) DO NOTHING"
)
"""Every e-mail a database made before the keys existed gets one to compute (idempotent)."""


def install(engine: Engine, immediate: Mapping[str, object]) -> None:
    """Create the triggers and queue the keys of e-mails written before them, once per file (at open).

    The triggers and the backfill are written in one transaction, so a file with the triggers has a key
    row for every e-mail; opening such a file only reads ``sqlite_master``. ``immediate`` are the
    execution options of a write transaction (``database``): other processes may be writing the file.
    """
    with engine.connect() as conn:
        with conn.begin():
            present = set(conn.exec_driver_sql(_INSTALLED).scalars())
        if present >= _NAMES:
            return
        conn.execution_options(**immediate)
        with conn.begin():
            for trigger in _TRIGGERS:
                conn.exec_driver_sql(trigger)
            conn.exec_driver_sql(_BACKFILL)


_NAMES = frozenset({"email_subject_key_insert", "email_subject_key_update", "email_subject_key_delete",
                    "email_subject_key_prefixes"})
_INSTALLED = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'email_subject_key_%'"


_PENDING = (
    select(email.c.activityid, email.c.subject)
    .join(email_subject_key, email_subject_key.c.activityid == email.c.activityid)
    .where(email_subject_key.c.subjectkey.is_(None))
)
_SET_KEY = (
    update(email_subject_key)
    .where(email_subject_key.c.activityid == bindparam("id"))
    .values(subjectkey=bindparam("key"))
)


def refresh(conn: Connection, normal_form: Callable[[str], str]) -> int:
    """Compute every key still NULL with ``normal_form`` (in the caller's transaction); how many."""
    pending = conn.execute(_PENDING).all()
    if pending:
        keys = [{"id": row.activityid, "key": normal_form(row.subject or "")} for row in pending]
        conn.execute(_SET_KEY, keys)
    return len(pending)


def candidate_query(columns: tuple[ColumnElement[Any], ...], limit: int) -> Select[Any]:
    """``columns`` (and the key) of the newest ``limit`` e-mails whose key is the bound ``core`` or not
    yet computed; built once by the caller. Both branches use ``ix_email_subject_key``."""
    key = email_subject_key.c.subjectkey
    return (
        select(*columns, key)
        .join(email_subject_key, email_subject_key.c.activityid == email.c.activityid)
        .where(or_(key == bindparam("core"), key.is_(None)))
        .order_by(email.c.createdon.desc(), rowid(email).desc())
        .limit(limit)
    )
