"""Lookups a batch of incoming e-mails repeats, remembered for the length of one transaction.

Delivering a batch in one transaction (``incoming``) resolves the same addresses again and again: the
recipients' routed mailboxes and the parties' records. Nothing a delivery writes (activities, parties,
attachments, notes, the journal) changes what these lookups read (users, queues, customers,
mailboxes), so within that transaction an answer once found stays true. ``memoized`` opens such a
scope on a connection; ``remembered`` answers from it, or computes (and keeps) the answer. Outside a
scope every lookup goes to the database, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")

_KEY = "router.crm.embedded.lookups"


@contextmanager
def memoized(conn: Connection) -> Iterator[None]:
    """Remember lookups on ``conn`` until the block ends (one transaction: see the module docstring)."""
    conn.info[_KEY] = {}
    try:
        yield
    finally:
        conn.info.pop(_KEY, None)


def remembered(conn: Connection, kind: str, key: str, compute: Callable[[], T]) -> T:
    """The answer of ``compute`` for ``(kind, key)``: remembered in a ``memoized`` scope, else computed."""
    memo: dict[tuple[str, str], Any] | None = conn.info.get(_KEY)
    if memo is None:
        return compute()
    found = (kind, key)
    if found not in memo:
        memo[found] = compute()
    return memo[found]  # type: ignore[no-any-return]


def remember(conn: Connection, kind: str, answers: dict[str, Any]) -> bool:
    """Keep ``answers`` (key -> answer) of ``kind`` in the ``memoized`` scope, as ``remembered`` would
    have computed them (a batch looks several up at once); False outside a scope (nothing kept)."""
    memo: dict[tuple[str, str], Any] | None = conn.info.get(_KEY)
    if memo is None:
        return False
    memo.update(((kind, key), answer) for key, answer in answers.items())
    return True


def is_memoized(conn: Connection) -> bool:
    """True inside a ``memoized`` scope."""
    return _KEY in conn.info
