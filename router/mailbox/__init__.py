"""The mailbox-session contract the pipelines talk to, whatever the transport (house rule 13).

``session.MailboxSession`` is the Protocol; ``router/graph/session.py`` implements it over Microsoft
Graph (the EWS implementation over exchangelib is the next step, with the pipelines' wiring).
"""
