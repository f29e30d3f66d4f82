"""Correlation: tying an incoming message to an e-mail the CRM already tracks.

Dynamics tries, in order, In-Reply-To, the tracking token in the subject, the Exchange conversation index
and smart matching (same subject once ``RE:``/``FW:`` prefixes and tokens are stripped, and at least
``hashminaddresscount`` addresses in common). The first method that finds an e-mail wins; the new
activity records that method and inherits the earlier e-mail's regarding record.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, func, select, true

from router.crm.codes import CorrelationMethod
from router.crm.embedded import subjects
from router.crm.embedded.organization import OrgSettings
from router.crm.embedded.rows import rowid
from router.crm.embedded.schema import activityparty, email
from router.crm.embedded.tracking import find_tokens, strip_tokens

#: The first 22 bytes of an Exchange conversation index identify the conversation.
CONVERSATION_HEADER_BYTES = 22
SMART_MATCH_CANDIDATES = 200
_PREFIX = re.compile(r"^\s*(re|fw|fwd|aw|wg|sv|vs|tr|antw)\s*(\[\d+\])?\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Correlation:
    """The outcome: the method that matched (or NONE / SKIPPED), the earlier e-mail, the tokens seen."""

    method: CorrelationMethod
    parent: RowMapping | None
    tokens: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        """True when an earlier e-mail was found."""
        return self.parent is not None

    @property
    def unmatched_token(self) -> bool:
        """True when the subject carries a token that maps to nothing in the CRM."""
        return bool(self.tokens) and self.method is not CorrelationMethod.TRACKING_TOKEN


def canonical_conversation_index(value: str | None) -> str | None:
    """Return a conversation index (hex or base64) as upper-case hex, or None if it is not one."""
    text = (value or "").strip()
    if not text:
        return None
    raw: bytes | None = None
    if re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return raw.hex().upper() if len(raw) >= CONVERSATION_HEADER_BYTES else None


def normalize_subject(org: OrgSettings, subject: str) -> str:
    """Return the subject smart matching compares: no tokens, no reply/forward prefixes, lower case."""
    text = strip_tokens(org, subject)
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).lower()


def correlate(
    conn: Connection,
    org: OrgSettings,
    *,
    subject: str,
    in_reply_to: str | None,
    conversation_index: str | None,
    addresses: Iterable[str],
) -> Correlation:
    """Find the e-mail an incoming message belongs to, trying the methods in Dynamics' order."""
    tokens = tuple(find_tokens(org, subject))
    if in_reply_to and (parent := _latest(conn, func.lower(email.c.messageid) == in_reply_to.lower())):
        return Correlation(CorrelationMethod.IN_REPLY_TO, parent, tokens)
    for token in tokens:
        parent = _latest(
            conn, func.lower(email.c.trackingtoken) == token.lower(), email.c.directioncode == true()
        )
        if parent is not None:
            return Correlation(CorrelationMethod.TRACKING_TOKEN, parent, tokens)
    if not org.correlation_enabled:
        return Correlation(CorrelationMethod.SKIPPED, None, tokens)
    index = canonical_conversation_index(conversation_index)
    if index and (parent := _by_conversation(conn, index)):
        return Correlation(CorrelationMethod.CONVERSATION_INDEX, parent, tokens)
    if parent := _smart_match(conn, org, subject, {a.strip().lower() for a in addresses if a.strip()}):
        return Correlation(CorrelationMethod.SMART_MATCHING, parent, tokens)
    return Correlation(CorrelationMethod.NONE, None, tokens)


_PARENT = (email.c.activityid, email.c.subject, email.c.regardingobjectid, email.c.regardingobjecttypecode)
"""What correlation reads of an earlier e-mail (never its body): the parent's id and regarding record."""


def _latest(conn: Connection, *conditions: object) -> RowMapping | None:
    newest = (email.c.createdon.desc(), rowid(email).desc())
    stmt = select(*_PARENT).where(*conditions).order_by(*newest).limit(1)  # type: ignore[arg-type]
    return conn.execute(stmt).mappings().first()


def _by_conversation(conn: Connection, index: str) -> RowMapping | None:
    header = index[: CONVERSATION_HEADER_BYTES * 2]
    return _latest(conn, func.substr(email.c.conversationindex, 1, len(header)) == header)


def _smart_match(conn: Connection, org: OrgSettings, subject: str, addresses: set[str]) -> RowMapping | None:
    core = normalize_subject(org, subject)
    if not core or not addresses:
        return None
    for candidate, parties in _smart_candidates(conn, org, core):
        # A computed key is exact; one still NULL is checked here.
        same = candidate["subjectkey"] == core or normalize_subject(org, candidate["subject"]) == core
        if same and len(addresses & parties) >= org.hash_min_address_count:
            return candidate
    return None


def _smart_candidates(conn: Connection, org: OrgSettings, core: str) -> list[tuple[RowMapping, set[str]]]:
    """The newest e-mails whose subject key is ``core`` or not yet computed (``subjects``), each with its
    parties' addresses (lower case); when keys still to compute could crowd out older matches from the
    limit, they are computed first."""
    found = _with_parties(conn.execute(_CANDIDATES, {"core": core}))
    crowded = len(found) >= SMART_MATCH_CANDIDATES and any(c["subjectkey"] is None for c, _ in found)
    if crowded and subjects.refresh(conn, partial(normalize_subject, org)):
        found = _with_parties(conn.execute(_CANDIDATES, {"core": core}))
    return found


def _with_parties(rows: Iterable[Row[Any]]) -> list[tuple[RowMapping, set[str]]]:
    """Group the candidate rows (one per party, in candidate order, the party's address last) by e-mail."""
    grouped: dict[str, tuple[RowMapping, set[str]]] = {}
    for row in rows:
        found = grouped.get(row[0])
        if found is None:
            found = grouped[row[0]] = (row._mapping, set())
        if row[-1]:
            found[1].add(row[-1])
    return list(grouped.values())


def refresh_subject_keys(conn: Connection, org: OrgSettings) -> int:
    """Compute the subject keys not computed yet (a batch does it once, before its first message)."""
    return subjects.refresh(conn, partial(normalize_subject, org))


_CANDIDATE = subjects.candidate_query(
    (*_PARENT, email.c.createdon, rowid(email).label("position")), SMART_MATCH_CANDIDATES
).subquery("candidate")
_CANDIDATES = (
    select(_CANDIDATE, func.lower(activityparty.c.addressused).label("party"))
    .outerjoin(activityparty, activityparty.c.activityid == _CANDIDATE.c.activityid)
    .order_by(_CANDIDATE.c.createdon.desc(), _CANDIDATE.c.position.desc())
)
"""Smart matching's candidates, by subject key (an index), newest first, each row with one of its
parties' addresses (one statement); built once."""
