"""The message pipelines: ``incoming`` (Exchange mailboxes into the CRM) and ``outgoing`` (CRM to Exchange).

Each pipeline is a sequence of small steps, one concept per module. The pure, transport-independent steps
(parsing, screening, unwrapping, size policy) take values and return values; the orchestration that
fetches, delivers and acknowledges calls them.
"""
