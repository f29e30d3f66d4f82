"""Browser tests of the console: headless Chromium (Debian's ``chromium``) driven by Playwright.

The real router service (`router_service`, as `email-router run` builds it) runs against the EWS
simulator over HTTPS and the embedded CRM, with the console on its status server. Playwright's own
browser download does not work offline, so the system Chromium is used (``CHROMIUM`` or
/usr/bin/chromium); on a machine without it these tests are skipped with that reason. Set
``CONSOLE_SCREENSHOT_DIR`` to keep the screenshot of the mailboxes page (the README's) there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from exchangelib.autodiscover import clear_cache
from exchangelib.protocol import close_connections

from router.clock import SystemClock
from router.console.password import set_console_password
from router.console.serve import console_mount
from router.home import Home
from router.runtime.metrics import Metrics
from router.service.assembly import router_service
from router.service.service import Service
from router.service.status_server import StatusServer
from router.simulator import Controller
from tests.flows.incoming.rig import Rig, make_rig
from tests.support.ews_simulator import ews_schema, ews_simulator, ews_tls_dir

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

__all__ = ["ews_schema", "ews_simulator", "ews_tls_dir"]

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CONSOLE_PASSWORD = "correct horse battery staple"
SETTINGS = "config_refresh_period_seconds = 0.5\n"


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).is_file():
        return (f"browser tests not run: no Chromium at {CHROMIUM} (install Debian's `chromium` package, "
                "or set CHROMIUM to its path)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests not run: the playwright package is not installed (pip install -e '.[test]')"
    return None



@dataclass
class Live:
    """The running service with its console, and a signed-out browser page."""

    rig: Rig
    service: Service
    url: str
    page: Page
    errors: list[str]

    def login(self) -> None:
        """Sign in through the login form."""
        self.page.goto(f"{self.url}/mailboxes")
        self.page.get_by_label("Console password").fill(CONSOLE_PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.url}/mailboxes")


@pytest.fixture
def rig(home: Home, ews_simulator: Controller, tmp_path: Path) -> Iterator[Rig]:
    """A home published against the simulator and the embedded CRM, with a console password."""
    made = make_rig(home, ews_simulator, tmp_path)
    set_console_password(home, CONSOLE_PASSWORD)
    yield made
    made.crm.close()
    close_connections()
    clear_cache()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile directory."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 800})
        yield context
        context.close()


@contextmanager
def live_console(rig: Rig, browser: BrowserContext) -> Iterator[Live]:
    """Start the real service and the status server with the console; the browser starts signed out."""
    metrics, clock = Metrics(), SystemClock()
    service = router_service(rig.home, clock, metrics)
    browser.clear_cookies()
    page = browser.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []  # Script errors and console errors (a CSP violation is one).
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    try:
        with console_mount(rig.home, clock, metrics, service, host="127.0.0.1") as mount, \
                StatusServer(metrics, health=service.health, ready=service.ready,
                             console=mount.console) as server:
            service.start()
            try:
                yield Live(rig, service, server.url, page, errors)
            finally:
                service.stop(grace=10)
    finally:
        page.close()


def screenshot_dir() -> Path | None:
    """Where to keep screenshots for the README (``CONSOLE_SCREENSHOT_DIR``), if anywhere."""
    wanted = os.environ.get("CONSOLE_SCREENSHOT_DIR")
    return Path(wanted) if wanted else None
