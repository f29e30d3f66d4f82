"""The admin's web console, served by `email-router run` on its status address.

Pages (Jinja2 templates, htmx for partial updates, uPlot for charts, all vendored under ``static/``)
show every mailbox's health, alerts, quarantine, traces, traffic charts and published versions, and act
through the same state-store calls as the CLI (mailbox resume, quarantine retry/resolve, test-access).
Everything but ``/metrics``, ``/healthz`` and ``/readyz`` needs a login with the console password
(`email-router console password`), kept as a scrypt hash in the vault.
"""
