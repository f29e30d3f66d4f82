"""The Graph URLs the simulator serves: method, path pattern, operation name and permission needed.

Operation names (``graph.delta``, ``graph.value``...) are what faults target and the request log shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from router.simulator.graph import messages, sending
from router.simulator.graph.context import GraphCtx, GraphResponse

READ_WRITE = "Mail.ReadWrite"
SEND = "Mail.Send"
_USER = r"/users/(?P<user>[^/]+)"
_KEY_SEGMENT = re.compile(r"\('([^']*)'\)")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    permission: str
    handler: Callable[[GraphCtx], GraphResponse]


def _r(method: str, path: str, op: str, perm: str, handler: Callable[[GraphCtx], GraphResponse]) -> Route:
    return Route(method, re.compile(f"^{_USER}{path}$", re.IGNORECASE), f"graph.{op}", perm, handler)


ROUTES = (
    _r("GET", r"/mailFolders/(?P<folder>[^/]+)/messages/delta", "delta", READ_WRITE, messages.delta),
    _r("GET", r"/mailFolders/(?P<folder>[^/]+)/messages", "list", READ_WRITE, messages.list_messages),
    _r("GET", r"/mailFolders/(?P<folder>[^/]+)/childFolders", "folders", READ_WRITE, messages.child_folders),
    _r("GET", r"/mailFolders/(?P<folder>[^/]+)", "folder", READ_WRITE, messages.get_folder),
    _r("GET", r"/messages/(?P<id>[^/]+)/\$value", "value", READ_WRITE, messages.mime_value),
    _r("POST", r"/messages/(?P<id>[^/]+)/move", "move", READ_WRITE, messages.move_message),
    _r("POST", r"/messages/(?P<id>[^/]+)/send", "send", SEND, sending.send_draft),
    _r("GET", r"/messages/(?P<id>[^/]+)", "get", READ_WRITE, messages.get_message),
    _r("PATCH", r"/messages/(?P<id>[^/]+)", "update", READ_WRITE, messages.update_message),
    _r("DELETE", r"/messages/(?P<id>[^/]+)", "delete", READ_WRITE, messages.delete_message),
    _r("POST", r"/messages", "create", READ_WRITE, sending.create_message),
    _r("POST", r"/sendMail", "sendMail", SEND, sending.send_mail),
)


def normalise(path: str) -> str:
    """``/users/a%40b/mailFolders('inbox')/messages/delta()`` -> ``/users/a@b/mailFolders/inbox/messages/
    delta`` (key segments and OData function-call parentheses, which Graph accepts both ways)."""
    return _KEY_SEGMENT.sub(lambda m: "/" + m.group(1), unquote(path.rstrip("/"))).replace("()", "")


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``method path`` and its parameters; None when nothing does."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is not None and route.method == method:
            return route, found.groupdict()
    return None


def allowed_methods(path: str) -> set[str]:
    return {r.method for r in ROUTES if r.pattern.match(path)}
