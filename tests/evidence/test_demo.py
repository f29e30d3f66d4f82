"""The demo end to end (what `scripts/demo` runs): the router really delivers and sends, and the final
tables say what each recipient saw and what the CRM correlated. One test, so that pytest-xdist does
not run the demo once per worker."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from router.demo.story import DemoResult, run_demo
from router.demo.views import landed_table, seen_table

pytestmark = pytest.mark.slow


def test_the_demo_shows_send_as_send_on_behalf_and_a_correlated_reply(tmp_path: Path) -> None:
    said: list[str] = []
    result = run_demo(tmp_path, said.append)
    _check_what_recipients_saw(result)
    _check_what_landed(result)
    console = Console(file=io.StringIO(), width=400)
    console.print(landed_table(result.landed))
    console.print(seen_table(result.seen))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "on behalf of Bob Brown" in text and "What each recipient saw" in text
    assert any("email-router publish" in line for line in said)
    assert [p for p in Path("/proc").iterdir() if p.name.isdigit() and _our_router_child(p)] == []


def _check_what_recipients_saw(result: DemoResult) -> None:
    quote = next(s for s in result.seen if s.subject.startswith("Your quote Q-1042"))
    assert quote.right == "Send As" and quote.recipient == "carol@fabrikam.com"
    assert "alice@contoso.com" in quote.from_ and quote.sender in (None, quote.from_)
    assert quote.shown_as == "Alice Adams <alice@contoso.com>"
    meeting = next(s for s in result.seen if s.subject.startswith("Meeting on Thursday"))
    assert meeting.right == "Send On Behalf" and "bob@contoso.com" in meeting.from_
    assert meeting.sender is not None and "svc-router@contoso.com" in meeting.sender
    assert meeting.shown_as == ("CRM E-mail Router <svc-router@contoso.com> on behalf of "
                                "Bob Brown <bob@contoso.com>")
    online = next(s for s in result.seen if s.subject.startswith("RE: Pricing for 500 seats"))
    assert online.right == "Send As" and online.recipient == "dave@litware.com"
    assert online.shown_as == "Erin Evans <erin@contoso.com>", "sent over Graph as Erin"


def _check_what_landed(result: DemoResult) -> None:
    first = next(x for x in result.landed if x.subject == "Order 1042 has not arrived")
    assert "carol@fabrikam.com" in first.sender and first.correlated_to is None
    reply = next(x for x in result.landed if x.subject.startswith("RE: Your quote Q-1042"))
    assert reply.correlated_to is not None and reply.correlated_to.startswith("Your quote Q-1042")
    assert reply.correlation in ("in-reply-to", "tracking-token")
    online = next(x for x in result.landed if x.subject == "Pricing for 500 seats")
    assert "dave@litware.com" in online.sender and "erin@contoso.com" in online.recipients


def _our_router_child(proc: Path) -> bool:
    """True for a live process started by this one running `python -m router ...`."""
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    parent = int(stat[stat.rindex(")") + 2:].split()[1])
    return parent == os.getpid() and b"router" in cmdline
