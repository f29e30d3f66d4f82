"""The Dynamics Web API facade over the embedded CRM, so clients are tested over real HTTP."""

from router.crm.facade.auth import FacadeCredentials
from router.crm.facade.dispatch import Behaviour
from router.crm.facade.server import CrmFacade

__all__ = ["Behaviour", "CrmFacade", "FacadeCredentials"]
