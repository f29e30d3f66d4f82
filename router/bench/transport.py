"""Scenarios without the router: the script a user would write, and exchangelib's own ceiling.

* ``naive``: what a user would otherwise write: list the Inbox, then per message one GetItem (MIME),
  parse it with Python's ``email`` (``policy.default``: body and attachments), and one
  DeliverIncomingEmail into a fresh embedded CRM. Sequential, stock exchangelib.
* ``ceiling``: exchangelib's batched fetch (GetItem of 100 ids with MIME) of the same items and
  nothing else, once with stock exchangelib and once with ``router.ews.perf`` installed.
* ``sends``: ``send_and_save`` of a 3.4 KB HTML message to an external recipient, one per request.

The ceiling and send scenarios are also the simulator's throughput (issue #3): the simulator's CPU per
item is reported next to the client's, so one can see that the server is not what limits a client.
"""

from __future__ import annotations

import email
import email.policy
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from exchangelib import HTMLBody, Mailbox, Message
from exchangelib.account import Account

from router.bench.measure import timed
from router.bench.org import EXTERNAL, SERVICE, Accounts, mailbox_address
from router.bench.results import Throughput
from router.clock import SystemClock
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.gateway import Attachment, IncomingEmail
from router.ews import perf
from router.harness.messages import SIZES, Envelope, build_message
from router.harness.simprocess import SimulatorProcess

FETCH_FIELDS = ["mime_content", "subject", "datetime_received", "message_id"]
HTML = "<html><body>" + "<p>Thank you for your order. We will ship it within two days.</p>" * 50 + \
       "</body></html>"
WARM_UP_ITEMS = 10


def fill_mailboxes(sim: SimulatorProcess, count: int, sizes: list[str]) -> None:
    """Inject ``count`` realistic messages of each size into that size's mailbox."""
    for size in sizes:
        target = mailbox_address(size)
        for i in range(count):
            env = Envelope(f"customer{i % 50}@fabrikam.com", target, f"Order {i} question",
                           f"<bench-{size}-{i}@fabrikam.com>", sender_name=f"Customer {i % 50}")
            sim.inject(target, build_message(env, SIZES[size], seed=i))


def parsed_by_hand(raw: bytes, receiving: str) -> IncomingEmail:
    """What a hand-written script makes of one message: headers, the body, and the attachments."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body_part = msg.get_body(("html", "plain"))
    body = body_part.get_content() if body_part is not None else ""
    attachments = tuple(Attachment(part.get_filename() or "attachment", part.get_content_type(),
                                   _payload(part)) for part in msg.iter_attachments())
    return IncomingEmail(message_id=str(msg["Message-ID"] or ""), subject=str(msg["Subject"] or ""),
                         sender=str(msg["From"] or ""), received_on=SystemClock().now(),
                         to=(str(msg["To"] or ""),), body=body, attachments=attachments,
                         receiving_address=receiving)


def _payload(part: email.message.Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _naive_pass(account: Account, gateway: EmbeddedGateway, limit: int | None = None) -> int:
    done = 0
    for listed in account.inbox.all().only("id", "changekey"):
        if limit is not None and done >= limit:
            break
        (item,) = account.fetch([listed], only_fields=["mime_content"])
        gateway.deliver_incoming(parsed_by_hand(item.mime_content, account.primary_smtp_address))
        done += 1
    return done


class TransportBench:
    """Runs the transport scenarios against one running simulator."""

    def __init__(self, sim: SimulatorProcess, accounts: Accounts, repeats: int) -> None:
        self.sim = sim
        self.accounts = accounts
        self.repeats = repeats

    def _server_cpu(self) -> float:
        return self.sim.usage().cpu_seconds

    def naive(self, size: str) -> Throughput:
        """One GetItem per message, parse, one CRM insert each; stock exchangelib."""
        perf.uninstall()
        account = self.accounts.account(mailbox_address(size))
        result = Throughput(f"naive-{size}", "incoming", "hand-written script (stock)",
                            "hand-written script: GetItem per message + parse + CRM insert (stock "
                            "exchangelib)", size)
        for rep, gateway in each_fresh_crm(self.repeats):
            self._naive_run(account, gateway, result, warm_up=rep == 0)
        return result

    def _naive_run(self, account: Account, gateway: EmbeddedGateway, result: Throughput, *,
                   warm_up: bool) -> None:
        if warm_up:
            _naive_pass(account, gateway, WARM_UP_ITEMS)
        else:
            result.samples.append(timed(lambda: _naive_pass(account, gateway), self._server_cpu))

    def ceiling(self, size: str, *, patched: bool) -> Throughput:
        """exchangelib's batched fetch (100 per GetItem) of every message of ``size``, nothing else."""
        if patched:
            perf.install()
        else:
            perf.uninstall()
        account = self.accounts.account(mailbox_address(size))
        ids = [(i.id, i.changekey) for i in account.inbox.all().only("id", "changekey")]
        variant = "router.ews.perf" if patched else "stock"
        result = Throughput(f"ceiling-{size}-{'patched' if patched else 'stock'}", "transport",
                            f"fetch ceiling ({'perf' if patched else 'stock'})",
                            f"exchangelib batched fetch with MIME, nothing else ({variant})", size)

        def fetch(subset: list[tuple[str, str]]) -> int:
            return sum(1 for item in account.fetch(subset, only_fields=FETCH_FIELDS) if item.mime_content)

        fetch(ids[:WARM_UP_ITEMS])
        result.samples.extend(timed(lambda: fetch(ids), self._server_cpu) for _ in range(self.repeats))
        return result

    def sends(self, count: int) -> Throughput:
        """``send_and_save`` of a 3.4 KB HTML message to one external recipient, sequentially."""
        perf.install()
        account = self.accounts.account(SERVICE)
        result = Throughput("sends", "outgoing", "send ceiling (perf)", "exchangelib send_and_save, one "
                            "CreateItem per message (router.ews.perf)", "3KB HTML")

        def send(n: int) -> int:
            for i in range(n):
                Message(account=account, folder=account.sent, subject=f"Quote {i}", body=HTMLBody(HTML),
                        to_recipients=[Mailbox(email_address=EXTERNAL)]).send_and_save()
            return n

        send(WARM_UP_ITEMS)
        result.samples.extend(timed(lambda: send(count), self._server_cpu) for _ in range(self.repeats))
        return result


def each_fresh_crm(repeats: int) -> Iterator[tuple[int, EmbeddedGateway]]:
    """A fresh embedded CRM (in a temporary directory) for each run of a hand-written script: the
    warm-up (run 0), then ``repeats`` timed runs; each is closed and removed after its run."""
    for rep in range(repeats + 1):
        with tempfile.TemporaryDirectory(prefix="bench-crm-") as tmp:
            crm = EmbeddedCrm(Path(tmp) / "crm.sqlite")
            try:
                yield rep, EmbeddedGateway(crm, None)
            finally:
                crm.close()
