"""The outgoing pipeline: CRM emails in Pending Send leave through Exchange.

Pure, transport-independent parts live here, one concept per module:

- ``message``      the neutral ``OutgoingMessage`` the claim step builds from a CRM email activity;
- ``addresses``    validation and normalisation of mailbox addresses and display names;
- ``message_id``   the Message-ID the router owns (generated and recorded before sending);
- ``thread_index`` Outlook's Thread-Index (conversation index): new, child, parse;
- ``plaintext``    the text/plain alternative generated from the HTML body;
- ``render``       ``render(OutgoingMessage) -> RenderedMessage`` (MIME bytes plus the envelope);
- ``rate_limit``   the per-mailbox send rate limiter a scheduler asks before each send.
"""
