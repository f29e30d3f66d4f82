"""`scripts/demo`: the router's main job, shown end to end in under a minute on a fresh machine.

The EWS simulator (a small Contoso with users, a queue and the router's service account) and the
embedded CRM (the same people, plus external customers) are set up in a temporary directory; the
sample profiles are generated, validated and published with the real commands; `email-router run`
starts as a subprocess. Then external mail lands in the CRM (and a reply is correlated to the CRM
e-mail it answers), and CRM e-mails go out with Send As and with Send On Behalf. The last table shows
what each recipient saw. Nothing is left running.
"""
