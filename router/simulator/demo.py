"""`simulate send`: show a tester what a recipient sees for Send As, Send On Behalf, or no right.

An in-process simulator is seeded, the caller's rights on the principal are set exactly as asked,
and exchangelib sends from the principal's mailbox as a delegate would (CreateItem SendAndSaveCopy
into the principal's Sent Items with From = principal). The outcome is read back from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from router.errors import SimulatorError
from router.simulator.control import MessageView
from router.simulator.controller import Controller

MODES = ("as", "on-behalf", "none")


@dataclass(frozen=True)
class SendDemo:
    """What happened and what the recipient sees."""

    mode: str
    error: str | None
    from_header: str | None
    sender_header: str | None
    headers: str
    left_in: str | None = None

    @property
    def rendering(self) -> str:
        """How Outlook shows the sender line."""
        if self.from_header is None:
            return ""
        if self.sender_header and self.sender_header != self.from_header:
            return f"{self.sender_header} on behalf of {self.from_header}"
        return self.from_header


def _adapter(ca_file: Path) -> type[requests.adapters.HTTPAdapter]:
    class TrustSimulator(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            kwargs["verify"] = str(ca_file)
            return super().send(request, **kwargs)

    return TrustSimulator


def run_send_demo(
    mode: str, *, principal: str, caller: str, to: str, subject: str, seed: Path | dict[str, Any]
) -> SendDemo:
    """Send one message from ``principal``'s mailbox as ``caller`` holding the right ``mode``."""
    if mode not in MODES:
        raise SimulatorError(f"unknown send mode '{mode}'", hint="use --as, --on-behalf or --none")
    with Controller(seed=seed) as sim:
        control = sim.control
        password = sim.store.require_user(caller).password
        if password is None:
            raise SimulatorError(
                f"{caller} has no password in the seed and cannot log on",
                hint="choose a --caller with a password",
            )
        for right in ("send_as", "send_on_behalf"):
            control.revoke(right, principal, caller)
        control.grant("full_access", principal, caller)
        if mode != "none":
            control.grant("send_as" if mode == "as" else "send_on_behalf", principal, caller)
        error = _send(sim, principal, caller, password, to, subject)
        if error is not None:
            drafts = [m for m in control.messages(principal, "drafts") if m.subject == subject]
            return SendDemo(mode, error, None, None, "", f"{principal} Drafts" if drafts else None)
        received = _received(sim, to, subject)
        head = received.mime.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
        return SendDemo(mode, None, received.header("From"), received.header("Sender"), head)


def _send(sim: Controller, principal: str, caller: str, password: str, to: str, subject: str) -> str | None:
    from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, FailFast, Mailbox, Message
    from exchangelib.errors import EWSError
    from exchangelib.protocol import BaseProtocol, close_connections

    saved = BaseProtocol.HTTP_ADAPTER_CLS
    BaseProtocol.HTTP_ADAPTER_CLS = _adapter(sim.ca_file)
    try:
        config = Configuration(
            service_endpoint=sim.url,
            credentials=Credentials(caller, password),
            auth_type=BASIC,
            retry_policy=FailFast(),
        )
        account = Account(principal, config=config, autodiscover=False, access_type=DELEGATE)
        Message(
            account=account,
            folder=account.sent,
            subject=subject,
            body="Sent by `email-router simulate send`.",
            author=Mailbox(email_address=principal),
            to_recipients=[Mailbox(email_address=to)],
        ).send_and_save()
        return None
    except EWSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        close_connections()
        BaseProtocol.HTTP_ADAPTER_CLS = saved


def _received(sim: Controller, to: str, subject: str) -> MessageView:
    if sim.store.user(to) is not None:
        return next(m for m in sim.control.messages(to) if m.subject == subject)
    entry = sim.control.journal()[-1]
    return MessageView(
        "",
        "journal",
        subject,
        None,
        None,
        list(entry.recipients),
        [],
        None,
        None,
        None,
        False,
        [],
        entry.mime,
    )
