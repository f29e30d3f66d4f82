"""The scale scenario's CRM over HTTP: the Dynamics Web API facade in front of the rig's embedded CRM.

``dynamics_facade(rig)`` adds the router's service user to the CRM, starts the facade (in this
process, on 127.0.0.1; its CPU is not the router's), stores the service account's credential in the
router's vault and publishes the rig's profiles again with the deployment reaching its CRM through the
facade over NTLM, so every CRM request the router makes at idle is a real HTTP request to a Web API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from router.bench.rig import RouterRig
from router.crm.codes import IncomingDeliveryMethod, OutgoingDeliveryMethod
from router.crm.embedded import EmbeddedCrm, MailboxSettings
from router.crm.facade import CrmFacade, FacadeCredentials

ACCOUNT = "CONTOSO\\svc-router"
PASSWORD = "Router-Bench-Passw0rd!"  # Local to the bench's facade on 127.0.0.1, never a real secret.
CREDENTIAL = "crm"
ORGANISATION = "contoso"


@contextmanager
def dynamics_facade(rig: RouterRig) -> Iterator[CrmFacade]:
    """Serve the rig's CRM over the Web API and point the published deployment at it (see the module)."""
    with EmbeddedCrm(rig.crm_db) as crm, CrmFacade(crm, credentials=FacadeCredentials(
            ntlm_accounts={ACCOUNT: SecretStr(PASSWORD)}, act_on_behalf=frozenset({ACCOUNT}))) as facade:
        # The router's own CRM user (its mailbox delivers nothing), as whom the facade serves it.
        crm.add_user("E-mail Router", "svc-router@contoso.com", ACCOUNT, settings=MailboxSettings(
            incoming=IncomingDeliveryMethod.NONE, outgoing=OutgoingDeliveryMethod.NONE))
        rig.home.run("credentials", "set", CREDENTIAL, "--username", ACCOUNT, "--stdin",
                     stdin=PASSWORD + "\n")
        document = rig.profiles()
        document["deployments"][ORGANISATION].pop("embedded", None)
        document["deployments"][ORGANISATION]["dynamics"] = dynamics_deployment(facade)
        rig.home.write_profiles(document)
        rig.home.run("profiles", "validate", str(rig.home.profiles_dir))
        rig.home.run("publish", str(rig.home.profiles_dir))
        yield facade


def dynamics_deployment(facade: CrmFacade) -> dict[str, Any]:
    """The deployment's ``[dynamics]`` table for ``facade`` (plain HTTP on the loopback)."""
    return {"url": facade.api_url("9.0", ORGANISATION), "auth": "ntlm", "credential": CREDENTIAL,
            "insecure_allow_clear_text_over_http": True}
