"""The risky opt-ins a valid profile set uses, as sentences to warn about.

Validation refuses what is unsafe by default; what an admin explicitly opted into (no certificate
verification, credentials over plain http) is allowed but never silent: ``profiles validate`` and
``publish`` print these sentences and the service logs them as warnings each time it applies a
configuration (so at every start).
"""

from __future__ import annotations

from router.config.common import Tls
from router.config.profileset import ProfileSet


def risks(ps: ProfileSet) -> list[str]:
    """One sentence per risky setting in ``ps``, naming the profile or deployment."""
    found: list[str] = []
    for name, profile in sorted(ps.profiles.items()):
        found += _tls(f"profile {name!r}", profile.tls)
        if profile.insecure_allow_clear_text_over_http:
            found.append(_clear_text(f"profile {name!r}"))
    for name, deployment in sorted(ps.deployments.items()):
        if deployment.dynamics is None:
            continue
        found += _tls(f"deployment {name!r} (Dynamics)", deployment.dynamics.tls)
        if deployment.dynamics.insecure_allow_clear_text_over_http:
            found.append(_clear_text(f"deployment {name!r} (Dynamics)"))
    return found


def _tls(owner: str, tls: Tls) -> list[str]:
    if tls.verify:
        return []
    return [f"{owner}: tls.verify = false: server certificates are NOT checked, so anyone on the path "
            "can impersonate the server and read the credentials sent to it"]


def _clear_text(owner: str) -> str:
    return (f"{owner}: insecure_allow_clear_text_over_http = true: credentials may cross the network in "
            "clear text over http")
