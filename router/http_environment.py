"""Read what requests takes from the environment once per session, not before every request.

A requests session that trusts the environment (requests' default) scans all of ``os.environ`` for
proxies and ``NO_PROXY`` before each request: on a busy outgoing lane that was about 5 % of the
router's CPU, and about a tenth of it with 10,000 idle mailboxes behind the Dynamics Web API. Sessions
that talk to one server (EWS, the Dynamics Web API) resolve it once when they are made instead; the
configuration a user gives (``HTTPS_PROXY`` / ``NO_PROXY`` / ``REQUESTS_CA_BUNDLE``) keeps working, and
a change to it needs a restart of the service.
"""

from __future__ import annotations

import os

import requests


def environment_once(session: requests.Session, url: str) -> requests.Session:
    """``session`` with what requests reads from the environment on every request read once, for ``url``.

    ``HTTPS_PROXY`` / ``HTTP_PROXY`` unless ``NO_PROXY`` exempts ``url``, and ``REQUESTS_CA_BUNDLE`` /
    ``CURL_CA_BUNDLE`` as the session's default verification. The credentials are the session's own,
    so requests' ``.netrc`` lookup had nothing to add.
    """
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False
    return session
