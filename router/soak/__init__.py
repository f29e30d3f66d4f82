"""`scripts/soak`: a bounded fault soak proving exactly-once delivery and sending under abuse.

Thousands of inbound messages are injected into the simulator's mailboxes and CRM e-mails are put in
Pending Send, while the simulator answers a set fraction of requests with ErrorServerBusy, HTTP 500
and 503, slow answers that outlast the router's read timeout, and dropped connections, and while the
router (`email-router run`, a subprocess) is killed with SIGKILL at random moments and restarted.
Then the faults stop, the router drains, and the audit compares what was injected and composed with
what the CRM and the simulator's outbound journal hold: lost messages, duplicate activities and
duplicate sends must all be 0; the quarantine is listed. Any other outcome exits non-zero.
"""
