"""The console's actions (POST, each behind the session's CSRF token): the CLI's own calls.

Resume is `email-router mailbox resume` (then the running service restarts the lane at once instead of
within ConfigRefreshPeriod); Retry and Resolve are `email-router quarantine retry / resolve` (a retried
message's lane is woken, so it is processed now); Test Access is `email-router test-access -m ADDRESS`
(recorded in the CRM, which resumes a stopped mailbox that passes). Each redirects back to its page
with a notice (post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from werkzeug.wrappers import Response

from router.clock import SystemClock
from router.config import Direction
from router.console.app import Context, Handler
from router.errors import RouterError
from router.runtime.lane import LaneKey
from router.runtime.metrics import Metrics
from router.runtime.resources import Resources
from router.service.access_run import AccessOptions, AccessReport, AccessRun
from router.service.service import load_running_config
from router.state import Direction as StateDirection
from router.state import QuarantineStatus

log = logging.getLogger(__name__)

ROUTES = {"resume": ("POST", "/mailboxes/<address>/resume"),
          "test_access": ("POST", "/mailboxes/<address>/test-access"),
          "retry": ("POST", "/quarantine/<int:entry_id>/retry"),
          "resolve": ("POST", "/quarantine/<int:entry_id>/resolve"), "logout": ("POST", "/logout")}
DIRECTIONS = {"incoming": (StateDirection.INCOMING,), "outgoing": (StateDirection.OUTGOING,),
              "both": (StateDirection.INCOMING, StateDirection.OUTGOING)}
TEST_ACCESS_TIMEOUT = 60.0


def resume(ctx: Context) -> Response:
    """Lift the stop of a mailbox direction whose cause the admin has fixed."""
    address = str(ctx.args["address"]).strip().lower()
    store = ctx.console.store()
    resumed = []
    for way in DIRECTIONS.get(ctx.request.form.get("direction", "both"), DIRECTIONS["both"]):
        if store.health.get(address, way).stopped:
            store.health.resume(address, way)
            resumed.append(way.value)
    if resumed and ctx.console.service is not None:
        ctx.console.service.resume_released()
    log.info("console: %s %s", address, f"{' and '.join(resumed)} resumed" if resumed else "not stopped")
    notice = f"{' and '.join(resumed)} resumed" if resumed else "not stopped: nothing to resume"
    return _back(f"/mailboxes/{quote(address)}", notice)


def test_access(ctx: Context) -> Response:
    """Run Test Access for one mailbox against the newest published version, and record the result."""
    address = str(ctx.args["address"]).strip().lower()
    try:
        report = run_test_access(ctx, address)
        notice = f"Test Access: incoming {_word(report, Direction.INCOMING)}; " \
                 f"outgoing {_word(report, Direction.OUTGOING)}" + (f"; {report.recorded}" if report.recorded
                                                                    else "")
    except RouterError as exc:
        notice = f"Test Access could not run: {exc}"
    log.info("console: test access of %s: %s", address, notice)
    return _back(f"/mailboxes/{quote(address)}", notice)


def run_test_access(ctx: Context, address: str) -> AccessReport:
    """The CLI's Test Access for ``address`` (recorded in the CRM), with resources of its own."""
    config = load_running_config(ctx.console.home)
    resources = Resources(ctx.console.home, SystemClock(), Metrics())
    try:
        run = AccessRun(config, resources)
        targets = run.targets(run.directory(), (address,))
        [report] = run.run(targets, AccessOptions((address,), False, TEST_ACCESS_TIMEOUT, True, 1))
    finally:
        resources.close()
    if report.resumed and ctx.console.service is not None:
        ctx.console.service.resume_released()
    return report


def _word(report: AccessReport, direction: Direction) -> str:
    check = report.check(direction)
    return f"{check.status.name.replace('_', ' ').title()} - {check.message}"


def retry(ctx: Context) -> Response:
    """Process a quarantined message again; the mailbox's lane is woken to do it now."""
    entry = ctx.console.store().quarantine.retry(int(ctx.args["entry_id"]))
    if ctx.console.service is not None:
        ctx.console.service.wake(LaneKey(entry.mailbox, Direction.INCOMING))
    log.info("console: quarantine entry %d of %s retried", entry.id, entry.mailbox)
    return _back(f"/quarantine/{entry.id}", f"will be processed again (retry {entry.retry_count})")


def resolve(ctx: Context) -> Response:
    """Close a quarantine entry with the admin's note."""
    entry_id = int(ctx.args["entry_id"])
    note = ctx.request.form.get("note", "").strip() or "resolved in the console"
    entry = ctx.console.store().quarantine.get(entry_id)
    if entry.status is not QuarantineStatus.RESOLVED:
        ctx.console.store().quarantine.resolve(entry_id, note)
    log.info("console: quarantine entry %d resolved", entry_id)
    return _back(f"/quarantine/{entry_id}", "resolved")


def logout(ctx: Context) -> Response:
    """End the session."""
    ctx.console.sessions.end(ctx.session.token)
    response = Response("", status=303, headers={"Location": "/login"})
    response.delete_cookie("er_session", path="/")
    return response


def _back(path: str, notice: str) -> Response:
    return Response("", status=303, headers={"Location": f"{path}?notice={quote(notice[:300])}"})


HANDLERS: dict[str, Handler] = {name: globals()[name] for name in ROUTES}
