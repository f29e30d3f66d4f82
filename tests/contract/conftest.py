"""The contract suite runs every test twice: over the embedded gateway in process, and over the Dynamics
adapter talking NTLM over real HTTP to the Web API facade in front of the same kind of CRM.

The ``dynamics-adapter-vs-facade`` target is the adapter against OUR OWN facade, not a real Dynamics
server: it proves the adapter and the facade agree with each other and with the embedded CRM's
decisions. What is known only from the real service (``../shared/reference/dynamics-webapi.md``:
status codes, error shapes, URL limits, the CSDL) is asserted separately, on the facade alone, in
``tests/unit/crm/test_facade_http.py`` (routing errors, status codes, versions),
``test_facade_iis_and_batch.py`` (IIS URL limits, ``$batch``, ``MSCRMCallerID``) and
``test_facade_metadata.py`` (the CSDL type model); the adapter's agreement
with a real server rests on those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from router.clock import FrozenClock
from router.crm.dynamics import DynamicsGateway
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.facade import CrmFacade, FacadeCredentials
from router.crm.gateway import CrmGateway
from tests.support.crm import (  # noqa: F401
    SERVICE_ACCOUNT,
    Organisation,
    crm_clock,
    crm_org,
    embedded_crm,
    facade_credentials,
    ntlm_settings,
)


@dataclass
class Target:
    """The gateway under test and what stands behind it, for assertions on what was stored."""

    kind: str
    gateway: CrmGateway
    crm: EmbeddedCrm
    org: Organisation
    clock: FrozenClock
    facade: CrmFacade | None

    def another_gateway(self) -> CrmGateway:
        """A second, independent gateway of the same kind (a second worker)."""
        if self.facade is None:
            return EmbeddedGateway(self.crm, SERVICE_ACCOUNT)
        return DynamicsGateway(ntlm_settings(self.facade), clock=self.clock)


@pytest.fixture(params=["embedded", "dynamics-adapter-vs-facade"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The gateway under test: ``embedded`` in process, or the Dynamics adapter over HTTP to our own facade
    (``dynamics-adapter-vs-facade``: no real Dynamics server takes part; see the module docstring)."""
    crm: EmbeddedCrm = request.getfixturevalue("embedded_crm")
    org: Organisation = request.getfixturevalue("crm_org")
    clock: FrozenClock = request.getfixturevalue("crm_clock")
    if request.param == "embedded":
        yield Target("embedded", EmbeddedGateway(crm, SERVICE_ACCOUNT), crm, org, clock, None)
        return
    credentials: FacadeCredentials = facade_credentials()
    with CrmFacade(crm, credentials=credentials) as facade:
        gateway = DynamicsGateway(ntlm_settings(facade), clock=clock)
        try:
            yield Target("dynamics", gateway, crm, org, clock, facade)
        finally:
            gateway.close()
