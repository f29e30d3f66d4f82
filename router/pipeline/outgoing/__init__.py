"""The outgoing pipeline: CRM emails in Pending Send leave through Exchange.

The pure, transport-independent parts live here, one concept per module; the claim / send / record
orchestration calls them:

- ``message``      the neutral ``OutgoingMessage`` the claim step builds from a CRM email activity;
- ``addresses``    validation and normalisation of mailbox addresses and display names;
- ``message_id``   the Message-ID the router owns (generated and recorded before sending);
- ``thread_index`` Outlook's Thread-Index (conversation index): new, child, parse;
- ``thread_topic`` Outlook's Thread-Topic (the subject without its reply prefix);
- ``conversation`` In-Reply-To, References, Thread-Index and Thread-Topic of one email;
- ``plaintext``    the text/plain alternative generated from the HTML body;
- ``mime_body``    the MIME body tree: alternatives, inline images, attachments;
- ``mime_policy``  the ``email`` policy: CRLF, 7-bit, Message-ID headers never encoded;
- ``render``       ``render(OutgoingMessage) -> RenderedMessage`` (MIME bytes plus the envelope);
- ``rate_limit``   the per-mailbox send rate limiter a scheduler asks before each send.
"""
