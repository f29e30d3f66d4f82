"""The Dynamics 365 / CRM 2016 on-premises Web API adapter of the ``CrmGateway`` contract."""

from router.crm.dynamics.gateway import DynamicsGateway
from router.crm.dynamics.settings import DynamicsSettings, NtlmCredentials, OAuthCredentials

__all__ = ["DynamicsGateway", "DynamicsSettings", "NtlmCredentials", "OAuthCredentials"]
