"""One mailbox over Graph: delta pages, MIME in batches, acknowledgement, MIME send, Sent Items search.

These are the operations the lane steps need (house rule 13's mailbox-session contract); per-item
failures inside a ``$batch`` are values (an error in the result), never an abort of the batch.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from router.errors import TransportError
from router.graph import folders, send_batch
from router.graph.client import GraphClient
from router.graph.errors import from_answer, retry_after

MAX_BATCH = 20
"""Graph's limit of steps in one JSON batch."""
BATCH_ROUNDS = 4
"""How often throttled steps of one batch are sent again (after their Retry-After) before they fail."""
DELTA_SELECT = ("internetMessageId", "subject", "from", "receivedDateTime", "isRead", "categories")


@dataclass(frozen=True)
class DeltaMessage:
    """One message a delta page reports as new or changed."""

    id: str
    internet_message_id: str | None
    subject: str
    is_read: bool
    categories: tuple[str, ...]
    received: datetime | None = None


@dataclass(frozen=True)
class DeltaPage:
    """A page of changes. Save ``delta_link`` (when set) like a sync state; follow ``next_link`` now.
    ``reset``: the saved link expired (410 SyncStateNotFound); start over with no link."""

    messages: list[DeltaMessage] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    next_link: str | None = None
    delta_link: str | None = None
    reset: bool = False


def _when(text: object) -> datetime | None:
    """An aware datetime from Graph's ISO 8601 text (``2026-12-07T18:09:37Z``), None when absent."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _step_error(mailbox: str, item_id: str, step: dict[str, Any]) -> TransportError:
    """The router error for a failed batch step (its status, headers and JSON body)."""
    headers = {str(k): str(v) for k, v in dict(step.get("headers") or {}).items()}
    return from_answer(
        int(step.get("status", 500)), headers, step.get("body") or {}, mailbox=mailbox, item_id=item_id
    )


def _message(item_id: str, entry: dict[str, Any]) -> DeltaMessage:
    """A message's properties from Graph's JSON (a delta entry or a ``$select`` answer)."""
    return DeltaMessage(
        item_id,
        entry.get("internetMessageId"),
        str(entry.get("subject") or ""),
        bool(entry.get("isRead")),
        tuple(entry.get("categories") or ()),
        _when(entry.get("receivedDateTime")),
    )


class GraphMailbox:
    """The Graph operations on one mailbox (``address``), through a shared GraphClient."""

    def __init__(self, client: GraphClient, address: str, folder: str = "inbox") -> None:
        self.client = client
        self.address = address
        self.folder = folder
        self._root = f"/users/{quote(address)}"
        self.root = self._root
        """The mailbox's path under the Graph root (``/users/{address}``)."""
        self._folders: dict[str, str] = {}

    def delta_page(self, link: str | None, *, page_size: int = 50) -> DeltaPage:
        """The next page of the folder's changes from ``link`` (a saved delta or next link; None: start).
        A link the delta poller was just told has no change is answered without a request."""
        if link is not None and self.client.quiet.quiet(self.address, link):
            return DeltaPage(delta_link=link)
        path = (
            link
            or f"{self._root}/mailFolders('{self.folder}')/messages/delta?$select={','.join(DELTA_SELECT)}"
        )
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        try:
            data = self.client.request("GET", self.address, path, headers=headers).json()
        except TransportError as err:
            if err.code in ("SyncStateNotFound", "syncStateNotFound", "410"):
                return DeltaPage(reset=True)
            raise
        page = DeltaPage(next_link=data.get("@odata.nextLink"), delta_link=data.get("@odata.deltaLink"))
        for entry in data.get("value", []):
            if "@removed" in entry:
                page.removed.append(str(entry["id"]))
            else:
                page.messages.append(_message(str(entry["id"]), entry))
        return page

    def _batch(self, steps: list[dict[str, object]]) -> dict[str, dict[str, object]]:
        """Run up to 20 steps; steps answered 429/503 are retried after their Retry-After, the rest
        returned by step id."""
        answers: dict[str, dict[str, object]] = {}
        pending = list(steps)
        for _ in range(BATCH_ROUNDS):
            if not pending:
                break
            data = self.client.request("POST", self.address, "/$batch", json={"requests": pending}).json()
            retry: list[dict[str, object]] = []
            for step in data.get("responses", []):
                answers[str(step["id"])] = step
                if int(step.get("status", 500)) in (429, 503):
                    self.client.throttle.back_off(self.address, retry_after(dict(step.get("headers") or {})))
                    retry.extend(s for s in pending if s["id"] == step["id"])
            pending = retry
        return answers

    def fetch_mime(self, ids: Sequence[str]) -> dict[str, bytes | TransportError]:
        """The MIME of each message (``$value``), 20 per ``$batch``; a failed one is its error."""
        out: dict[str, bytes | TransportError] = {}
        for start in range(0, len(ids), MAX_BATCH):
            chunk = list(ids[start : start + MAX_BATCH])
            steps: list[dict[str, object]] = [
                {"id": str(n), "method": "GET", "url": f"{self._root}/messages/{mid}/$value"}
                for n, mid in enumerate(chunk)
            ]
            answers = self._batch(steps)
            for n, mid in enumerate(chunk):
                step = answers.get(str(n), {"status": 500})
                if int(str(step.get("status"))) == 200:
                    out[mid] = base64.b64decode(str(step.get("body", "")))
                else:
                    out[mid] = _step_error(self.address, mid, step)
        return out

    def fetch_messages(self, ids: Sequence[str]) -> dict[str, tuple[bytes, DeltaMessage] | TransportError]:
        """Each message's MIME and properties (categories, received): two steps per message, so ten
        messages per ``$batch``; a failed step is that message's error."""
        out: dict[str, tuple[bytes, DeltaMessage] | TransportError] = {}
        per_batch = MAX_BATCH // 2
        select = ",".join(DELTA_SELECT)
        for start in range(0, len(ids), per_batch):
            chunk = list(ids[start : start + per_batch])
            steps: list[dict[str, object]] = []
            for n, mid in enumerate(chunk):
                url = f"{self._root}/messages/{mid}"
                steps.append({"id": f"m{n}", "method": "GET", "url": f"{url}/$value"})
                steps.append({"id": f"p{n}", "method": "GET", "url": f"{url}?$select={select}"})
            answers = self._batch(steps)
            for n, mid in enumerate(chunk):
                mime = answers.get(f"m{n}", {"status": 500})
                props = answers.get(f"p{n}", {"status": 500})
                failed = next((s for s in (mime, props) if int(str(s.get("status"))) != 200), None)
                if failed is not None:
                    out[mid] = _step_error(self.address, mid, failed)
                    continue
                body = props.get("body")
                entry: dict[str, Any] = body if isinstance(body, dict) else {}
                out[mid] = (base64.b64decode(str(mime.get("body", ""))), _message(mid, entry))
        return out

    def acknowledge(
        self,
        ids: Sequence[str],
        *,
        categories: Sequence[str] | None = None,
        mark_read: bool = False,
        move_to: str | None = None,
        delete: bool = False,
    ) -> dict[str, str | TransportError]:
        """Mark each message (categories / isRead by PATCH), then move it (``move_to``: a folder path
        such as ``Inbox/CRM``, or a well-known name) or delete it (to Deleted Items). Returns each
        message's id afterwards (moved: its new id) or its error."""
        out: dict[str, str | TransportError] = {mid: mid for mid in ids}
        if delete:
            self._each(out, lambda mid: {"method": "DELETE", "url": f"{self._root}/messages/{mid}"})
            return out
        patch: dict[str, object] = {}
        if categories is not None:
            patch["categories"] = list(categories)
        if mark_read:
            patch["isRead"] = True
        if patch:
            self._each(
                out,
                lambda mid: {
                    "method": "PATCH",
                    "url": f"{self._root}/messages/{mid}",
                    "body": patch,
                    "headers": {"Content-Type": "application/json"},
                },
            )
        if move_to:
            destination = self.folder_id(move_to)
            moved = self._each(
                out,
                lambda mid: {
                    "method": "POST",
                    "url": f"{self._root}/messages/{mid}/move",
                    "body": {"destinationId": destination},
                    "headers": {"Content-Type": "application/json"},
                },
            )
            for mid, step in moved.items():
                body = step.get("body")
                if isinstance(body, dict) and "id" in body:
                    out[mid] = str(body["id"])
        return out

    def _each(
        self, out: dict[str, str | TransportError], build: Callable[[str], dict[str, object]]
    ) -> dict[str, dict[str, object]]:
        """Run one step per message still without an error; record failed steps' errors in ``out``."""
        live = [mid for mid, value in out.items() if not isinstance(value, TransportError)]
        done: dict[str, dict[str, object]] = {}
        for start in range(0, len(live), MAX_BATCH):
            chunk = live[start : start + MAX_BATCH]
            answers = self._batch([{"id": str(n), **build(mid)} for n, mid in enumerate(chunk)])
            for n, mid in enumerate(chunk):
                step = answers.get(str(n), {"status": 500})
                if int(str(step.get("status"))) >= 400:
                    out[mid] = _step_error(self.address, mid, step)
                else:
                    done[mid] = step
        return done

    def send_mime(self, mime: bytes) -> None:
        """Send the rendered MIME as it is (``sendMail``; Exchange saves it to Sent Items). Raises
        SendAsDeniedError when the mailbox may not send as the MIME's From."""
        self.client.request(
            "POST",
            self.address,
            f"{self._root}/sendMail",
            once=True,
            data=base64.b64encode(mime),
            headers={"Content-Type": "text/plain"},
        )

    def send_mime_many(self, mimes: Sequence[bytes]) -> list[TransportError | None]:
        """Send several MIMEs, twenty per ``$batch`` (router.graph.send_batch); per e-mail None (sent) or
        its error. Raises when a batch fails as a whole: whether its e-mails left is then unknown."""
        return send_batch.send_many(self, mimes)

    def create_draft(self, mime: bytes) -> str:
        """Create a draft from the MIME in the mailbox's Drafts; return its id (then ``send_draft``).
        The two-step form lets a caller record the draft before it is sent."""
        response = self.client.request(
            "POST",
            self.address,
            f"{self._root}/messages",
            once=True,
            data=base64.b64encode(mime),
            headers={"Content-Type": "text/plain"},
        )
        return str(response.json()["id"])

    def send_draft(self, draft_id: str) -> None:
        """Send a draft made by ``create_draft``; Exchange saves it to Sent Items."""
        self.client.request("POST", self.address, f"{self._root}/messages/{draft_id}/send", once=True)

    def find(self, message_id: str, folder: str = "sentitems") -> list[dict[str, object]]:
        """Messages of ``folder`` whose Internet Message-ID is ``message_id`` (Sent Items by default)."""
        quoted = message_id.replace("'", "''")
        response = self.client.request(
            "GET",
            self.address,
            f"{self._root}/mailFolders/{folder}/messages",
            params={
                "$filter": f"internetMessageId eq '{quoted}'",
                "$select": "id,internetMessageId,from,sender",
            },
        )
        return list(response.json().get("value", []))

    def find_sent(self, message_id: str) -> str | None:
        """The Graph id of our message in Sent Items, or None: asked before sending again after a crash."""
        found = self.find(message_id)
        return str(found[0]["id"]) if found else None

    def folder_id(self, path: str) -> str:
        """The Graph id of a folder path (``Inbox/CRM``), resolved once per mailbox session."""
        key = path.casefold()
        if key not in self._folders:
            self._folders[key] = folders.resolve(self.client, self.address, path)
        return self._folders[key]

    def delete(self, message_id: str) -> None:
        self.client.request("DELETE", self.address, f"{self._root}/messages/{message_id}")
