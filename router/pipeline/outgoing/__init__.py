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
- ``render``       ``render(OutgoingMessage, loop_identity=) -> RenderedMessage`` (MIME plus envelope);
- ``rate_limit``   the per-mailbox send rate limiter a scheduler asks before each send.

The lane, one concept per module as well:

- ``lane``         ``OutgoingLanes(resources, checkpoint=).build(assignment, direction, config)``: the
                   lane-work factory registered in ``router.service.wiring``; one run = recover, claim,
                   attempt within the mailbox's send rate;
- ``directory``    the CRM mailbox id of a lane from Load Data, cached per published version;
- ``claim``        BackgroundSendEmail (after releasing stuck Sending), the mailbox's backlog, and the
                   send record's claim that records our Message-ID first;
- ``compose``      a CRM ``OutgoingEmail`` to an ``OutgoingMessage`` (From = the lane's mailbox);
- ``send``         CreateItem SendAndSaveCopy into the mailbox's Sent Items; drafts left by a refusal;
- ``attempt``      one email: claim, find or render, submit, record (checkpoint at every ``steps.Step``);
- ``failures``     a send error to a ``Failure`` (the email's fate, the mailbox's, the alert, the wait);
- ``record``       Sent / failed attempts in the CRM, the send records, alerts and metrics;
- ``recover``      our Message-ID in Sent Items / Outbox; SUBMITTED records a dead worker left;
- ``steps``        the named steps and the checkpoint hook (tests kill the process there);
- ``send_right``   ``detect_send_right``: Send As / Send On Behalf / none, asked of Exchange by a probe.
"""
