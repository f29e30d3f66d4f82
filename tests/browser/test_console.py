"""The console in a real browser: sign in, watch a mailbox fail and recover, retry a quarantined message
until the CRM has it, and a form without its CSRF token refused.

Skipped as a whole, with the reason, where there is no Chromium (see ``conftest``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import why_no_browser

NO_BROWSER = why_no_browser()
if NO_BROWSER:
    pytest.skip(NO_BROWSER, allow_module_level=True)

from playwright.sync_api import BrowserContext, expect  # noqa: E402

from router.crm.codes import IncomingDeliveryMethod  # noqa: E402
from router.state import QuarantineStatus  # noqa: E402
from tests.browser.conftest import SETTINGS, live_console, screenshot_dir  # noqa: E402
from tests.flows.incoming.rig import (  # noqa: E402
    ALICE,
    BERT,
    CAROL,
    DEFAULT_MAILBOXES,
    FORWARD,
    FRANK,
    LOGBOOK,
    SALES,
    Rig,
    binding,
)
from tests.support.ews_simulator import SVC  # noqa: E402

pytestmark = pytest.mark.flow
WAIT_MS = 60_000


def test_a_mailbox_turns_to_failure_and_back_to_success_in_the_console(rig: Rig, browser: BrowserContext,
                                                                      tmp_path: Path) -> None:
    others = [BERT, SALES, FRANK, FORWARD, LOGBOOK]
    rig.sim.control.grant("impersonation", ALICE, SVC, scope=others)  # Every mailbox but Alice's.
    rig.publish(DEFAULT_MAILBOXES, settings=SETTINGS)
    with live_console(rig, browser) as live:
        page = live.page
        page.goto(f"{live.url}/mailboxes")
        expect(page).to_have_url(re.compile(r"/login\?next=/mailboxes$"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        live.login()
        alice = page.locator(f'tr[data-mailbox="{ALICE}"] td.incoming')
        expect(alice).to_contain_text("Failure", timeout=WAIT_MS)  # htmx refreshes the table every 5 s
        expect(alice).to_contain_text("stopped")
        expect(page.locator(f'tr[data-mailbox="{BERT}"] td.incoming')).to_contain_text("Success",
                                                                                      timeout=WAIT_MS)
        shot = tmp_path / "mailboxes.png"
        page.screenshot(path=str(shot), full_page=True)
        if (keep := screenshot_dir()) is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, keep / "mailboxes.png")

        page.get_by_label("Health").select_option("failure")  # htmx swaps the table in place
        expect(page.locator(f'tr[data-mailbox="{BERT}"]')).to_have_count(0)
        page.get_by_label("Address contains").fill("alice")
        expect(page.locator(".summary")).to_have_text("1 mailbox(es)")
        expect(page).to_have_url(re.compile(r"q=alice"))
        page.get_by_role("link", name=ALICE).click()
        expect(page.get_by_role("heading", name=ALICE)).to_be_visible()
        expect(page.locator(".health-incoming")).to_contain_text("Failure")
        expect(page.get_by_text("ErrorImpersonateUserDenied").first).to_be_visible()
        rig.sim.control.grant("impersonation", ALICE, SVC, scope=[ALICE, *others])
        page.get_by_role("button", name="Resume incoming").click()
        expect(page.get_by_role("status")).to_contain_text("incoming resumed")
        for _ in range(WAIT_MS // 1000):
            if "Success" in page.locator(".health-incoming").inner_text():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(page.locator(".health-incoming")).to_contain_text("Success")
        expect(page.get_by_role("button", name="Resume incoming")).to_have_count(0)

        page.get_by_role("button", name="Run Test Access").click()
        expect(page.get_by_role("status")).to_contain_text("Test Access: incoming Success", timeout=WAIT_MS)
        assert live.errors == []


def test_a_quarantined_message_is_retried_from_the_console_and_delivered(rig: Rig,
                                                                         browser: BrowserContext) -> None:
    # Bert's mail is not for the router yet (so his own lane cannot deliver it): the wrapper that his
    # forwarding rule puts in the forward mailbox is quarantined until the CRM says Forward Mailbox.
    rig.crm.set_mailbox(BERT, incomingemaildeliverymethod=int(IncomingDeliveryMethod.NONE))
    rig.publish(binding("forward_mailboxes", FORWARD), settings=SETTINGS)
    rig.sim.control.seed({"rules": [{"mailbox": BERT, "name": "fw", "forward_as_attachment_to": [FORWARD]}]})
    rig.sim.control.inject(BERT, from_=CAROL, to=[BERT], subject="Via the forward mailbox", body="hi",
                           message_id="<fw@fabrikam.com>")
    with live_console(rig, browser) as live:
        page = live.page
        live.login()
        page.get_by_role("link", name="Quarantine").click()
        entry = page.get_by_role("link", name=re.compile(r"^#\d+$")).first
        for _ in range(WAIT_MS // 1000):
            if entry.count():
                break
            page.wait_for_timeout(1000)
            page.reload()
        entry.click()
        expect(page.get_by_role("heading", name=re.compile("Quarantine entry"))).to_be_visible()
        expect(page.locator("#entry-status")).to_have_text("open")
        expect(page.get_by_text("no-forward-mailbox-user").first).to_be_visible()
        expect(page.get_by_role("rowheader", name="Subject", exact=True)).to_be_visible()
        assert rig.activities("<fw@fabrikam.com>") == []

        rig.crm.set_mailbox(BERT, incomingemaildeliverymethod=int(IncomingDeliveryMethod.FORWARD_MAILBOX))
        page.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_contain_text("will be processed again")
        for _ in range(WAIT_MS // 1000):
            if page.locator("#entry-status").inner_text().startswith("resolved"):
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(page.locator("#entry-status")).to_contain_text("resolved")
        [activity] = rig.activities("<fw@fabrikam.com>")
        assert rig.crm.email(activity).row["subject"] == "Via the forward mailbox"
        page.get_by_role("link", name="<fw@fabrikam.com>").first.click()
        expect(page.get_by_role("cell", name="delivered", exact=True).first).to_be_visible()

        page.get_by_role("link", name="Charts").click()
        expect(page.locator("#chart-traffic canvas")).to_have_count(1)
        expect(page.locator("#chart-latency canvas")).to_have_count(1)
        expect(page.get_by_role("status")).to_contain_text("minute")
        page.get_by_role("link", name="Published").click()
        expect(page.get_by_text("The service runs version 1.")).to_be_visible()
        assert live.errors == []


def test_a_form_without_its_csrf_token_is_refused(rig: Rig, browser: BrowserContext) -> None:
    rig.publish(binding("forward_mailboxes", FORWARD), settings=SETTINGS)
    rig.sim.control.inject(FORWARD, from_=CAROL, to=[FORWARD], subject="Direct", body="not a wrapper",
                           message_id="<direct@fabrikam.com>")
    with live_console(rig, browser) as live:
        page = live.page
        live.login()
        with rig.store() as store:
            for _ in range(WAIT_MS // 200):
                if store.quarantine.entries():
                    break
                page.wait_for_timeout(200)
            [entry] = store.quarantine.entries()
        page.goto(f"{live.url}/quarantine/{entry.id}")
        page.eval_on_selector_all("input[name=csrf]", "inputs => inputs.forEach(i => i.remove())")
        page.get_by_label("Note").fill("forged")
        page.get_by_role("button", name="Resolve").click()
        expect(page.locator("body")).to_contain_text("security token is missing or out of date")
        with rig.store() as store:
            assert store.quarantine.get(entry.id).status is QuarantineStatus.OPEN
        script = f"async () => (await fetch('/quarantine/{entry.id}/retry', {{method: 'POST'}})).status"
        status = page.evaluate(script)
        assert status == 403
        with rig.store() as store:
            assert store.quarantine.get(entry.id).retry_count == 0
