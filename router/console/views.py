"""The console's pages (GET): mailboxes, one mailbox, alerts, quarantine, trace, charts, published.

Each reads the state store (``router.state``) and the running service's own objects; none writes.
"""

from __future__ import annotations

import json
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.policy import default as default_policy

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from router.config.publish import list_published
from router.console.app import Context, Handler
from router.console.overview import HealthFilter, mailbox_page, mailbox_rows
from router.errors import RouterError
from router.state import QuarantineStatus
from router.state.keys import normalize_message_id

ROUTES = {"mailboxes": ("GET", "/mailboxes"), "mailbox": ("GET", "/mailboxes/<address>"),
          "alerts": ("GET", "/alerts"), "quarantine": ("GET", "/quarantine"),
          "quarantine_entry": ("GET", "/quarantine/<int:entry_id>"), "trace": ("GET", "/trace"),
          "charts": ("GET", "/charts"), "series": ("GET", "/api/series"),
          "published": ("GET", "/published")}
QUARANTINE_FILTERS = [s.value for s in QuarantineStatus] + ["all"]


def mailboxes(ctx: Context) -> Response:
    """Every mailbox, filtered by address and health, one page at a time (htmx swaps the table)."""
    args = ctx.request.args
    try:
        health = HealthFilter(args.get("health", "any"))
    except ValueError:
        health = HealthFilter.ANY
    page = mailbox_page(ctx.console.store(), query=args.get("q", ""), health=health,
                        page=args.get("page", 1, type=int) or 1)
    return ctx.console.render("mailboxes.html", ctx, page=page, filters=[f.value for f in HealthFilter])


def mailbox(ctx: Context) -> Response:
    """One mailbox: both directions, open alerts, quarantine, recent decisions; Resume and Test Access."""
    store = ctx.console.store()
    address = str(ctx.args["address"]).strip().lower()
    found = mailbox_rows(store, [address])
    if not found:
        raise NotFound(f"no mailbox {address} is known to the router")
    return ctx.console.render(
        "mailbox.html", ctx, m=found[0], decisions=store.trail.recent(address, limit=50),
        quarantined=store.quarantine.entries(mailbox=address, status=None, limit=20),
        notice=ctx.request.args.get("notice", ""))


def alerts(ctx: Context) -> Response:
    """Open alerts, then the most recent ones (resolved included)."""
    store = ctx.console.store()
    return ctx.console.render("alerts.html", ctx, open_alerts=store.alerts.open_alerts(),
                              history=store.alerts.history(limit=100))


def quarantine(ctx: Context) -> Response:
    """Quarantined messages, newest first, by status."""
    wanted = ctx.request.args.get("status", "open")
    status = QuarantineStatus(wanted) if wanted in {s.value for s in QuarantineStatus} else None
    entries = ctx.console.store().quarantine.entries(status=status, limit=500)
    return ctx.console.render("quarantine.html", ctx, entries=entries, shown=wanted if status else "all",
                              filters=QUARANTINE_FILTERS)


def quarantine_entry(ctx: Context) -> Response:
    """One quarantined message: headers, stage, reason, decisions; Retry and Resolve."""
    store = ctx.console.store()
    try:
        entry = store.quarantine.get(int(ctx.args["entry_id"]))
    except RouterError as exc:
        raise NotFound(str(exc)) from exc
    return ctx.console.render("quarantine_entry.html", ctx, e=entry, headers=message_headers(entry.mime),
                              decisions=store.trail.for_message(entry.mailbox, entry.message_key),
                              notice=ctx.request.args.get("notice", ""))


def message_headers(mime: bytes | None) -> list[tuple[str, str]]:
    """The header fields of a kept message, decoded (RFC 2047) where they can be, raw where they cannot."""
    if not mime:
        return []
    raw = [(name, " ".join(str(value).split())) for name, value in
           BytesHeaderParser(policy=compat32).parsebytes(mime).raw_items()]
    try:
        decoded = BytesHeaderParser(policy=default_policy).parsebytes(mime).items()
        return [(name, text if getattr(value, "defects", None) else str(value))
                for (name, text), (_, value) in zip(raw, decoded, strict=True)]
    except Exception:  # A hostile header must not hide the others: show them undecoded.
        return raw


def trace(ctx: Context) -> Response:
    """Every decision about one Message-ID, across mailboxes (as `email-router trace`)."""
    wanted = ctx.request.args.get("message_id", "").strip()
    entries, decisions, normalized = [], [], ""
    if wanted:
        normalized = normalize_message_id(wanted) or wanted
        store = ctx.console.store()
        entries = store.ledger.find_by_message_id(normalized)
        decisions = store.trail.for_message_id(normalized)
    return ctx.console.render("trace.html", ctx, wanted=wanted, normalized=normalized, entries=entries,
                              decisions=decisions)


def charts(ctx: Context) -> Response:
    """Traffic per minute and arrival -> CRM latency, drawn by charts.js from ``/api/series``."""
    return ctx.console.render("charts.html", ctx)


def series(ctx: Context) -> Response:
    """The chart data (JSON): per-minute counters and latency kept by the service since it started."""
    return Response(json.dumps(ctx.console.history.series()), content_type="application/json")


def published(ctx: Context) -> Response:
    """Every published version and which one the service runs."""
    running = ctx.console.service.config if ctx.console.service is not None else None
    return ctx.console.render("published.html", ctx, versions=list_published(ctx.console.home),
                              running=running.version if running is not None else None)


HANDLERS: dict[str, Handler] = {name: globals()[name] for name in ROUTES}
