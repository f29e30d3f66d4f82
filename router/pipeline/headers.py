"""Header names that both pipelines agree on.

The outgoing side stamps every message it renders with ``LOOP_HEADER``; the incoming side recognises
the header on anything it fetches and screens the message out as the router's own (a queue mailing
another queue, or a mailbox the router both sends from and polls). The value is the deployment's loop
identity (``router.pipeline.incoming.screening.loop_header_value``), the same on every message.
"""

from __future__ import annotations

LOOP_HEADER = "X-Email-Router-Loop"
"""Stamped on every message the router sends; its value is the deployment's loop identity."""

THREAD_INDEX_HEADER = "Thread-Index"
"""Outlook's conversation index (base64 of PidTagConversationIndex)."""

THREAD_TOPIC_HEADER = "Thread-Topic"
"""Outlook's conversation topic (PidTagConversationTopic): the subject without Re:/Fw: prefixes."""
