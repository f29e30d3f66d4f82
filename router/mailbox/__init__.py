"""The mailbox-session contract the pipelines talk to, whatever the transport (house rule 13).

``session.MailboxSession`` is the Protocol; ``router/ews/session.py`` implements it over EWS
(exchangelib) and ``router/graph/session.py`` over Microsoft Graph; tests/contract/mailbox/ runs one
suite against both. The pipelines move onto it in the round that wires Graph in.
"""
