"""Microsoft Graph transport: Exchange Online mailboxes after EWS is switched off there (2027-04-01).

- ``clouds``     national clouds: authority host and Graph resource (global, US Government, 21Vianet).
- ``tokens``     app-only tokens through MSAL's confidential client (client secret or certificate).
- ``throttle``   4 concurrent requests per mailbox; Retry-After per mailbox (429) and per app (503).
- ``errors``     Graph error codes -> the one error tree (transient / permanent, code kept).
- ``client``     the thin HTTP client on requests: token, throttle, retries, error translation.
- ``mailbox``    one mailbox's operations: delta page, $batch MIME fetch, acknowledge, send MIME,
                 find by Message-ID in Sent Items.
- ``send_right`` the send right actually held, asked of Exchange by a probe.
- ``session``    the mailbox-session contract (router.mailbox.session) over Graph.
- ``factory``    ``GraphSpec`` (what the service builds from a profile) -> a shared client per app.
"""
