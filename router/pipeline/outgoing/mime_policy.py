"""The ``email`` policy the router renders with: SMTP line endings, and token headers never encoded.

``email.policy.SMTP`` folds every unstructured header it does not know, and a word longer than the
line is turned into an RFC 2047 encoded-word. For In-Reply-To, References, Thread-Index and our loop
header that would be wrong: ``<long-id@host>`` would become ``=?utf-8?q?=3Clong...?=`` and no client
could match it any more. These headers are lists of opaque ASCII tokens (Message-IDs, base64), so this
policy folds them only between tokens and writes each token whole. Callers guarantee each token is
printable ASCII and short enough to keep every line under 998 characters.
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import EmailPolicy

from router.pipeline.headers import LOOP_HEADER, THREAD_INDEX_HEADER

TOKEN_HEADERS = frozenset(name.lower() for name in ("In-Reply-To", "References", THREAD_INDEX_HEADER,
                                                     LOOP_HEADER))
"""Headers whose values are whitespace-separated opaque tokens, folded between tokens only."""


class CachedHeaderRegistry(HeaderRegistry):
    """The standard header registry, building each header class once instead of on every header.

    ``HeaderRegistry.__getitem__`` creates a new class with ``type()`` for every header set or parsed,
    which was the largest single cost of rendering an email; the classes it builds depend only on the
    header's name, so one per name serves every message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        self._classes.pop(name.lower(), None)
        super().map_to_type(name, cls)


class RouterPolicy(EmailPolicy):
    """``email.policy.SMTP`` except that ``TOKEN_HEADERS`` are folded between tokens, never encoded."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() in TOKEN_HEADERS:
            return fold_tokens(name, str(value), self.linesep, self.max_line_length or 78)
        folded: str = super().fold(name, value)
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in TOKEN_HEADERS:
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


def fold_tokens(name: str, value: str, linesep: str, width: int) -> str:
    """Return ``name: value`` folded at whitespace so lines stay within ``width`` where tokens allow."""
    lines = [f"{name}:"]
    for token in value.split():
        if len(lines[-1]) + 1 + len(token) > width and lines[-1] != f"{name}:":
            lines.append(f" {token}")
        else:
            lines[-1] += f" {token}"
    return linesep.join(lines) + linesep


ROUTER_POLICY = RouterPolicy(linesep="\r\n", cte_type="7bit", header_factory=CachedHeaderRegistry())
"""The policy every rendered message uses: CRLF, 78-column folding, and 7-bit output throughout
(non-ASCII text parts are quoted-printable or base64), since not every hop accepts 8BITMIME."""
