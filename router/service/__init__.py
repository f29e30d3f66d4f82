"""The router service: scheduling, mailbox health, metrics and the status endpoint."""
