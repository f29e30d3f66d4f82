"""The control API: what testers and tests use to drive the simulator out of band.

``ControlAPI`` is the Python handle (used by the Controller and by tests); ``ControlHttp`` serves the
same calls as JSON under ``/_control/`` on the simulator's own port, for the CLI and other tools.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from router.errors import SimulatorError
from router.simulator import mime
from router.simulator.auth import TokenIssuer
from router.simulator.dispatch import EwsEndpoint, RequestRecord
from router.simulator.faults import Fault, make_fault
from router.simulator.graph.endpoint import GraphEndpoint, GraphRecord
from router.simulator.graph.tokens import audience_of
from router.simulator.model import Item, JournalEntry, User
from router.simulator.permissions import Principal
from router.simulator.seed import SeedFile, apply_seed, load_seed, parse_seed
from router.simulator.store import Store
from router.simulator.submission import deliver

RIGHTS = ("full_access", "send_as", "send_on_behalf", "impersonation")


@dataclass(frozen=True)
class MessageView:
    """A stored message as the control API shows it."""

    id: str
    folder: str
    subject: str
    from_: str | None
    sender: str | None
    to: list[str]
    cc: list[str]
    message_id: str | None
    in_reply_to: str | None
    references: str | None
    is_read: bool
    categories: list[str]
    mime: bytes

    @classmethod
    def of(cls, item: Item) -> MessageView:
        return cls(
            item.ews_id,
            item.folder.path() or item.folder.name,
            item.subject,
            item.from_.formatted() if item.from_ else None,
            item.sender.formatted() if item.sender else None,
            [a.formatted() for a in item.to],
            [a.formatted() for a in item.cc],
            item.message_id,
            item.in_reply_to,
            item.references,
            item.is_read,
            list(item.categories),
            item.mime,
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` in the stored MIME (None when absent)."""
        for k, v in mime.headers(self.mime):
            if k.lower() == name.lower():
                return v
        return None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        data["mime"] = self.mime.decode("utf-8", "replace")
        return data


class ControlAPI:
    """Seed, inject, grant and revoke, read mailboxes and the journal, script faults."""

    def __init__(
        self, store: Store, endpoint: EwsEndpoint, tokens: TokenIssuer, graph: GraphEndpoint | None = None
    ) -> None:
        self.store = store
        self.endpoint = endpoint
        self.tokens = tokens
        self.graph = graph

    def seed(self, seed: SeedFile | dict[str, Any] | Path | str) -> None:
        """Load users, apps, folders, messages and rules from a file path, a dict or a SeedFile."""
        if isinstance(seed, (Path, str)):
            parsed, base = load_seed(Path(seed))
            apply_seed(self.store, parsed, base)
        else:
            apply_seed(self.store, seed if isinstance(seed, SeedFile) else parse_seed(seed))

    def inject(
        self,
        mailbox: str,
        eml: bytes | None = None,
        *,
        folder: str = "inbox",
        from_: str | None = None,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        subject: str = "",
        body: str = "",
        message_id: str | None = None,
        in_reply_to: str | None = None,
        references: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> str:
        """Deliver inbound mail to ``mailbox`` (Inbox rules run for the inbox); return the item id."""
        user = self.store.require_user(mailbox)
        raw = (
            eml
            if eml is not None
            else mime.build(
                mime.Draft(
                    subject=subject,
                    body=body,
                    from_=self.store.address_of(from_) if from_ else None,
                    to=[self.store.address_of(a) for a in (to or [user.address])],
                    cc=[self.store.address_of(a) for a in cc or []],
                    message_id=message_id or mime.new_message_id("external.example"),
                    in_reply_to=in_reply_to,
                    references=references or in_reply_to,
                    extra_headers=list(headers or []),
                ),
                date=self.store.clock.now(),
            )
        )
        with self.store.lock:
            if folder.lower() == "inbox":
                internal = from_ is not None and self.store.user(from_) is not None
                return deliver(self.store, user, raw, internal=internal).ews_id
            return self.store.add_item(self.store.folder_by_path(mailbox, folder, create=True), raw).ews_id

    def grant(self, right: str, mailbox: str, to: str, scope: list[str] | None = None) -> None:
        """Give ``to`` a right on ``mailbox`` (impersonation: the role, optionally scoped)."""
        self._set(right, mailbox, to, True, scope)

    def revoke(self, right: str, mailbox: str, to: str) -> None:
        self._set(right, mailbox, to, False, None)

    def _set(self, right: str, mailbox: str, to: str, on: bool, scope: list[str] | None) -> None:
        if right not in RIGHTS:
            raise SimulatorError(f"unknown right '{right}'", hint="use one of: " + ", ".join(RIGHTS))
        grantee = self.store.require_user(to)
        with self.store.lock:
            if right == "impersonation":
                grantee.application_impersonation = on
                grantee.impersonation_scope = (
                    {self.store.require_user(s).key for s in scope} if scope else None
                )
                return
            owner = self.store.require_user(mailbox)
            rights: set[str] = getattr(owner, right)
            if on:
                rights.add(grantee.key)
            else:
                rights.discard(grantee.key)
                if right == "send_on_behalf":
                    owner.delegates.pop(grantee.key, None)

    def messages(self, mailbox: str, folder: str = "inbox") -> list[MessageView]:
        """The messages of one folder, oldest first."""
        with self.store.lock:
            target = self.store.folder_by_path(mailbox, folder)
            return [MessageView.of(i) for i in target.items.values()]

    def journal(self) -> list[JournalEntry]:
        with self.store.lock:
            return list(self.store.journal)

    def fault(
        self,
        kind: str,
        operation: str = "*",
        count: int | None = None,
        rate: float | None = None,
        back_off_ms: int = 30000,
        delay_seconds: float = 1.0,
    ) -> Fault:
        """Script a fault (once by default; ``count`` times; or at ``rate``)."""
        return self.endpoint.faults.add(
            make_fault(kind, operation, count or (None if rate else 1), rate, back_off_ms, delay_seconds)
        )

    def clear_faults(self) -> None:
        self.endpoint.faults.clear()

    def requests(self) -> list[RequestRecord]:
        """The EWS requests served so far (most recent last)."""
        return list(self.endpoint.log)

    def graph_requests(self) -> list[GraphRecord]:
        """The Microsoft Graph requests served so far (most recent last)."""
        return list(self.graph.log) if self.graph is not None else []

    def token(self, user: str | None = None, client_id: str | None = None, scope: str | None = None) -> str:
        """Issue a bearer token directly (no token endpoint round trip) for a user or an app; ``scope``
        (e.g. ``https://graph.microsoft.com/.default``) sets its audience, as the token endpoint does."""
        if client_id is not None:
            app = self.store.apps.get(client_id)
            if app is None:
                raise SimulatorError(f"no application {client_id}", hint="seed it in [[apps]] first")
            return self.tokens.issue(Principal(app=app), audience_of(scope) if scope else "")
        return self.tokens.issue(Principal(user=self.store.require_user(user or "")))

    def state(self) -> dict[str, object]:
        """Users, their rights and the active faults, as JSON-ready data."""
        with self.store.lock:
            return {
                "users": [_user_json(self.store, u) for u in self.store.users.values()],
                "apps": [a.client_id for a in self.store.apps.values()],
                "faults": [f.describe() for f in self.endpoint.faults.active()],
                "journal_entries": len(self.store.journal),
            }


def _user_json(store: Store, u: User) -> dict[str, object]:
    def names(keys: Iterable[str]) -> list[str]:
        return sorted(store.users[k].address for k in keys)

    return {
        "address": u.address,
        "name": u.name,
        "can_logon": u.password is not None,
        "full_access": names(u.full_access),
        "send_as": names(u.send_as),
        "send_on_behalf": names(u.send_on_behalf),
        "delegates": names(u.delegates),
        "application_impersonation": u.application_impersonation,
    }


class ControlHttp:
    """Serves ControlAPI as JSON under /_control/."""

    def __init__(self, api: ControlAPI) -> None:
        self.api = api

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        url = urlsplit(path)
        route = url.path.rstrip("/").split("/_control", 1)[-1] or "/"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            data: Any = json.loads(body) if body.strip() else {}
            return 200, self._route(method, route, query, data)
        except SimulatorError as exc:
            return 400, {"error": exc.message, "hint": exc.hint}
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"error": f"bad control request: {exc}", "hint": "see `email-router simulate --help`"}

    def _route(self, method: str, route: str, q: dict[str, str], d: dict[str, Any]) -> object:
        api = self.api
        if (method, route) == ("GET", "/state"):
            return api.state()
        if (method, route) == ("POST", "/seed"):
            api.seed(d)
            return {"ok": True}
        if (method, route) == ("POST", "/inject"):
            eml = base64.b64decode(d["eml_base64"]) if d.get("eml_base64") else None
            return {
                "id": api.inject(
                    d["mailbox"],
                    eml,
                    folder=d.get("folder", "inbox"),
                    from_=d.get("from"),
                    to=d.get("to"),
                    cc=d.get("cc"),
                    subject=d.get("subject", ""),
                    body=d.get("body", ""),
                    message_id=d.get("message_id"),
                    in_reply_to=d.get("in_reply_to"),
                )
            }
        if method == "POST" and route in ("/grant", "/revoke"):
            if route == "/grant":
                api.grant(d["right"], d.get("mailbox", ""), d["to"], d.get("scope"))
            else:
                api.revoke(d["right"], d.get("mailbox", ""), d["to"])
            return {"ok": True}
        if (method, route) == ("GET", "/mailbox"):
            return [m.as_json() for m in api.messages(q["address"], q.get("folder", "inbox"))]
        if (method, route) == ("GET", "/journal"):
            return [
                {
                    "seq": e.seq,
                    "submitted_at": e.submitted_at.isoformat(),
                    "mail_from": e.mail_from,
                    "recipients": list(e.recipients),
                    "via": e.via,
                    "mime": e.mime.decode("utf-8", "replace"),
                }
                for e in api.journal()
            ]
        if route == "/faults":
            return self._faults(method, d)
        if (method, route) == ("GET", "/requests"):
            return [asdict(r) for r in api.requests()]
        if (method, route) == ("GET", "/graph-requests"):
            return [asdict(r) for r in api.graph_requests()]
        if (method, route) == ("POST", "/token"):
            token = api.token(d.get("user"), d.get("client_id"), d.get("scope"))
            return {"access_token": token, "token_type": "Bearer"}
        raise SimulatorError(
            f"no control route {method} /_control{route}",
            hint="routes: state, seed, inject, grant, revoke, mailbox, journal, faults, requests, "
            "graph-requests, token",
        )

    def _faults(self, method: str, d: dict[str, Any]) -> object:
        if method == "DELETE":
            self.api.clear_faults()
            return {"ok": True}
        if method == "POST":
            return self.api.fault(
                d["kind"],
                d.get("operation", "*"),
                d.get("count"),
                d.get("rate"),
                int(d.get("back_off_ms", 30000)),
                float(d.get("delay_seconds", 1.0)),
            ).describe()
        return [f.describe() for f in self.api.endpoint.faults.active()]
