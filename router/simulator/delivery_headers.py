"""The transport headers Exchange adds to a message when it delivers it to a mailbox.

Every delivered message gains a ``Received`` trace line from the Mailbox Transport and Exchange's
organisation headers: the network message id, where the message was authenticated
(``AuthSource``) and as what (``AuthAs``: ``Internal`` for mail from the organisation, ``Anonymous``
for mail from outside), and for outside mail the spam confidence level (SCL). Clients, and the
router's own parser, meet these on every real message, so the simulator adds them too.
"""

from __future__ import annotations

import re
import uuid
from email.utils import format_datetime

from router.simulator import mime
from router.simulator.store import Store
from router.simulator.versions import ServerBuild

SERVER_BUILD = ServerBuild()
"""The transport build in the trace line: the simulator's default build."""


def _build() -> str:
    b = SERVER_BUILD
    return f"{b.major}.{b.minor}.{b.build}.{b.revision}"


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def stamp(store: Store, raw: bytes, *, internal: bool) -> bytes:
    """``raw`` with the headers Exchange adds at delivery prepended (the body is kept byte for byte).

    Content that does not start with a header line (empty, blank, binary) is left as given: the
    simulator delivers such hostile test content exactly, for the router to meet as it is.
    """
    if not _HEADER_LINE.match(raw):
        return raw
    now = format_datetime(store.clock.now())
    host = store.hostname
    source = host if internal else "mail.external.example (192.0.2.25)"
    received = (f"from {source} by {host} with Microsoft SMTP Server (version=TLS1_2, "
                f"cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id {_build()} via Mailbox Transport; {now}")
    headers = [
        ("Received", received),
        ("X-MS-Exchange-Organization-Network-Message-Id", str(uuid.uuid4())),
        ("X-MS-Exchange-Organization-AuthSource", host),
        ("X-MS-Exchange-Organization-AuthAs", "Internal" if internal else "Anonymous"),
    ]
    if not internal:
        headers.append(("X-MS-Exchange-Organization-SCL", "1"))
    return mime.edit_headers(raw, prepend=headers)
