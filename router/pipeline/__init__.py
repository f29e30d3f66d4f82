"""The message pipelines: incoming (Exchange to CRM) and outgoing (CRM to Exchange)."""
