"""What a Graph handler gets (one request, its mailbox and caller) and what it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from router.simulator.config import ServerConfig
from router.simulator.graph.resources import WELL_KNOWN, GraphError, decode_id
from router.simulator.model import App, Folder, Item, User
from router.simulator.store import Store

JSON = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false"


@dataclass
class GraphResponse:
    """Status, headers and body of one Graph answer (a $batch step is one of these too)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    """Close the connection without answering (a scripted fault)."""

    @staticmethod
    def of(status: int, data: object, headers: list[tuple[str, str]] | None = None) -> GraphResponse:
        return GraphResponse(status, json.dumps(data).encode(), JSON, list(headers or []))

    @staticmethod
    def error(err: GraphError) -> GraphResponse:
        return GraphResponse(err.status, err.body(), JSON, list(err.headers))


@dataclass
class GraphCtx:
    """One Graph request as a handler sees it; ``user`` is the mailbox the URL names."""

    store: Store
    config: ServerConfig
    app: App
    user: User
    method: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str

    def json_body(self) -> dict[str, object]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "The request payload must be a JSON object.")
        return data

    def select(self) -> list[str] | None:
        text = self.query.get("$select", "")
        return [s.strip() for s in text.split(",") if s.strip()] or None

    def folder(self, ref: str) -> Folder:
        """A folder of the mailbox by well-known name or Graph id."""
        name = WELL_KNOWN.get(ref.lower())
        if name is not None:
            found = self.store.distinguished(self.user.address, name)
        else:
            found = self.store.folder(decode_id(ref, "folder"))
        if found is None or found.mailbox != self.user.key:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return found

    def item(self) -> Item:
        """The message the URL names, which must be in the URL's mailbox."""
        found = self.store.item(decode_id(self.params["id"], "message"))
        if found is None or found.mailbox != self.user.key:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return found
