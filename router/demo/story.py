"""The demo, scene by scene: set up, start the router, receive, send, receive a reply, show the outcome.

``run_demo`` returns the ``DemoResult`` (also what the test checks) and narrates through ``say``
(rich markup) and the real commands' output. Every wait has a deadline; every process it starts is
stopped before it returns, whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from router.crm.codes import EmailStatus
from router.crm.embedded import EmbeddedCrm
from router.demo.cast import ALICE, BOB, CAROL, DAVE, ERIN, RIGHTS, SUPPORT, contoso
from router.demo.views import Landed, Seen, journal_headers, landed, seen
from router.harness.messages import Envelope, build_message
from router.harness.routerhome import RouterHome
from router.harness.routerprocess import RouterProcess
from router.harness.simprocess import SimulatorProcess
from router.harness.waiting import wait_until

Say = Callable[[str], None]
STEP_SECONDS = 30.0
SETTINGS = {"scheduling_period_seconds": 1, "config_refresh_period_seconds": 1}


@dataclass(frozen=True)
class DemoResult:
    """What the recipients saw, what landed in the CRM, and how long the demo took."""

    seen: list[Seen]
    landed: list[Landed]
    seconds: float


class Demo:
    """One run of the demo in ``workdir`` (which the caller creates and removes)."""

    def __init__(self, workdir: Path, say: Say) -> None:
        self.workdir = workdir
        self.say = say
        self.org = contoso()
        self.home = RouterHome(workdir / "home", echo=self._echo)
        self.sim = SimulatorProcess(workdir, self.org.simulator_seed())
        self.router = RouterProcess(self.home)

    def _echo(self, command: str, output: str) -> None:
        self.say(f"[bold cyan]$ {command}[/]")
        if output:
            self.say(f"[dim]{output}[/]")

    def run(self) -> DemoResult:
        started = time.monotonic()
        try:
            self._set_up()
            incoming_id = self._customer_writes()
            self._crm_sends(incoming_id)
            self._customer_replies()
            self._exchange_online()
            with EmbeddedCrm(self.home.home.crm_db) as crm:
                arrived = landed(crm)
            rights = {p.address: RIGHTS[p.send] for p in (ALICE, BOB, SUPPORT, ERIN)}
            return DemoResult(seen(self.sim.journal(), rights), arrived, time.monotonic() - started)
        finally:
            self.router.stop()
            self.sim.stop()

    # Scenes -------------------------------------------------------------------------------------------

    def _set_up(self) -> None:
        self.say("[bold]1. An Exchange organisation (the EWS simulator) and a CRM (the embedded CRM)[/]")
        self.sim.start()
        self.say(f"EWS simulator at {self.sim.url}: Alice (Send As granted to the router's service account), "
                 "Bob (Send On Behalf only), the Contoso Support queue, and Erin, whose mailbox is in "
                 f"Exchange Online, reached over Microsoft Graph at {self.sim.base_url}/v1.0 (an app "
                 "registration with Mail.ReadWrite and Mail.Send); customers Carol, Fabrikam and Dave in "
                 "the CRM.")
        self.say("[bold]2. The admin's part: key and vault, the service account's password, profiles, "
                 "publish[/]")
        self.home.prepare(self.org, self.sim.url, self.sim.ca_file, SETTINGS, graph_base=self.sim.base_url)
        self.say("[bold]3. The router starts[/]")
        self.router.start()
        self.say(f"`email-router run` is serving 4 mailboxes (3 over EWS, 1 over Graph); status at "
                 f"{self.router.status_url}")

    def _customer_writes(self) -> str:
        self.say("[bold]4. A customer writes to the support queue[/]")
        message_id = make_msgid(domain="fabrikam.com")
        raw = build_message(Envelope(CAROL.address, SUPPORT.address, "Order 1042 has not arrived",
                                     message_id, sender_name=CAROL.name), 8 * 1024)
        self.sim.inject(SUPPORT.address, raw)
        self.say(f"Carol <{CAROL.address}> -> {SUPPORT.address}: 'Order 1042 has not arrived'")
        row = wait_until(lambda: self._crm_email(message_id), timeout=STEP_SECONDS, log=self.router.log_tail,
                         what="the router delivered Carol's message into the CRM")
        self.say(f"The router delivered it: CRM e-mail {row['activityid']} (Received)")
        return str(row["activityid"])

    def _crm_sends(self, incoming_id: str) -> None:
        self.say("[bold]5. CRM users send e-mail; the router sends it through Exchange as them[/]")
        self.home.run("crm", "compose", "--from", ALICE.address, "--to", CAROL.address, "--subject",
                      "Your quote Q-1042", "--body", "<p>Dear Carol, please find our quote below.</p>")
        self.home.run("crm", "compose", "--from", BOB.address, "--to", DAVE.address, "--subject",
                      "Meeting on Thursday", "--body", "<p>Dave, does 10:00 suit you?</p>")
        self.home.run("crm", "compose", "--from", SUPPORT.address, "--to", CAROL.address, "--reply-to",
                      incoming_id, "--subject", "RE: Order 1042 has not arrived",
                      "--body", "<p>Your order left our warehouse today.</p>")
        wait_until(lambda: self._all_sent(3), timeout=STEP_SECONDS, log=self.router.log_tail,
                   what="the router sent the three CRM e-mails (Pending Send -> Sent)")
        self.say("All three are Sent in the CRM.")

    def _customer_replies(self) -> None:
        self.say("[bold]6. Carol replies to Alice's e-mail[/]")
        quote = next(e for e in self.sim.journal() if "Q-1042" in journal_headers(e).get("subject", ""))
        headers = journal_headers(quote)
        message_id = make_msgid(domain="fabrikam.com")
        raw = build_message(Envelope(CAROL.address, ALICE.address, f"RE: {headers['subject']}", message_id,
                                     in_reply_to=headers["message-id"], sender_name=CAROL.name), 8 * 1024)
        self.sim.inject(ALICE.address, raw)
        self.say(f"Carol -> {ALICE.address}: 'RE: {headers['subject']}' "
                 f"(In-Reply-To: {headers['message-id']})")
        row = wait_until(lambda: self._crm_email(message_id), timeout=STEP_SECONDS, log=self.router.log_tail,
                         what="the router delivered Carol's reply into the CRM")
        self.say(f"Delivered as CRM e-mail {row['activityid']}, correlated to the e-mail it answers.")

    def _exchange_online(self) -> None:
        self.say("[bold]7. Erin's mailbox is in Exchange Online: the same router, over Microsoft Graph[/]")
        message_id = make_msgid(domain="litware.com")
        raw = build_message(Envelope(DAVE.address, ERIN.address, "Pricing for 500 seats", message_id,
                                     sender_name=DAVE.name), 8 * 1024)
        self.sim.inject(ERIN.address, raw)
        self.say(f"Dave -> {ERIN.address}: 'Pricing for 500 seats'")
        row = wait_until(lambda: self._crm_email(message_id), timeout=STEP_SECONDS, log=self.router.log_tail,
                         what="the router delivered Dave's message to Erin (over Graph) into the CRM")
        self.say(f"Read by delta query and delivered: CRM e-mail {row['activityid']}")
        self.home.run("crm", "compose", "--from", ERIN.address, "--to", DAVE.address, "--reply-to",
                      str(row["activityid"]), "--subject", "RE: Pricing for 500 seats",
                      "--body", "<p>Dave, the price list is attached to our quote.</p>")
        wait_until(lambda: self._all_sent(4), timeout=STEP_SECONDS, log=self.router.log_tail,
                   what="the router sent Erin's reply over Graph (Pending Send -> Sent)")
        self.say("Sent over Graph from the service mailbox as Erin (Exchange checked the Send As right).")

    # Reading the CRM ----------------------------------------------------------------------------------

    def _crm_email(self, message_id: str) -> dict[str, Any] | None:
        with EmbeddedCrm(self.home.home.crm_db) as crm:
            for row in crm.emails(incoming=True, limit=200):
                if row["messageid"] == message_id:
                    return dict(row)
        return None

    def _all_sent(self, count: int) -> bool:
        with EmbeddedCrm(self.home.home.crm_db) as crm:
            return len(crm.emails(status=EmailStatus.SENT, incoming=False, limit=count)) >= count


def run_demo(workdir: Path, say: Say) -> DemoResult:
    """Run the whole demo in ``workdir``; every process it started is stopped when it returns."""
    return Demo(workdir, say).run()
