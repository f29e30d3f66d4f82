"""One GetStreamingEvents connection for a group of subscriptions, over exchangelib.

Exchange lets one long-lived GetStreamingEvents request carry up to 200 SubscriptionIds made with the
same credentials, and caps the streaming connections an account holds at once (10 by default; the
next is refused with ErrorExceededConnectionCount). Three things exchangelib does not give:

* ``StreamingCall`` keeps the ids a failed response names in ``m:ErrorSubscriptionIds`` (exchangelib
  folds them into the error text), so one broken subscription can be dropped and the others streamed.
* ``own_protocol`` gives the connection a session pool of its own, outside exchangelib's protocol
  cache. A stream holds its session for minutes, so it must not take one from the pool the mailbox
  lanes share; and exchangelib answers ErrorExceededConnectionCount by shrinking the pool it came
  from (for good) and retrying at once. With a pool of one the shrink cannot happen: the error is
  raised, and the caller backs off this connection alone.
* ``interrupt`` ends a blocked read at once by shutting the socket down (closing it from another
  thread does not wake a reader on Linux), so a connection can be re-opened with new members.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from exchangelib.configuration import Configuration
from exchangelib.protocol import Protocol
from exchangelib.services import GetStreamingEvents
from exchangelib.util import MNS

log = logging.getLogger(__name__)

SUBSCRIPTION_IDS = f"{{{MNS}}}ErrorSubscriptionIds"


class StreamingCall(GetStreamingEvents):  # type: ignore[misc]
    """exchangelib's GetStreamingEvents on its own protocol, keeping the ids a failure names."""

    def __init__(self, account: Any, protocol: Any) -> None:
        super().__init__(account=account)
        self.protocol = protocol
        self.error_ids: list[str] = []

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        listed = message.find(SUBSCRIPTION_IDS)
        if listed is not None:
            # The schema puts t:SubscriptionId in the list; accept any namespace (exchangelib looks for m:).
            self.error_ids = [str(e.text).strip() for e in listed if e.text and e.text.strip()]
        return super()._get_element_container(message=message, name=name)

    def interrupt(self, *, drain: bool = False) -> None:
        """End the open response's blocked read now (the reading thread sees the stream end).

        With ``drain`` only the sending side is shut: the server sees its client go and ends the stream
        with ConnectionStatus Closed, and the reader still gets every notification written before it
        (the server takes a written event as delivered, so a read cut short would lose it)."""
        sock = _socket_of(self._streaming_response)
        if sock is None:
            return
        try:
            socket.socket.shutdown(sock, socket.SHUT_WR if drain else socket.SHUT_RDWR)
        except OSError:  # Already closed: the reader has ended or is ending.
            log.debug("the streaming socket was closed already", exc_info=True)


def own_protocol(account: Any) -> Any:
    """A protocol like ``account``'s with a pool of one session, not shared with anything else."""
    config = account.protocol.config
    own = Configuration(service_endpoint=config.service_endpoint, credentials=config.credentials,
                        auth_type=config.auth_type, version=account.version, retry_policy=config.retry_policy,
                        max_connections=1)
    # Protocol's metaclass would hand back the cached, shared instance; type.__call__ builds a new one.
    protocol = type.__call__(Protocol, config=own)
    protocol.TIMEOUT = account.protocol.TIMEOUT
    return protocol


def _socket_of(response: Any) -> socket.socket | None:
    """The socket under a streamed requests response, if it is still open."""
    raw = getattr(response, "raw", None)
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None
