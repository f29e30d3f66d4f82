"""Unit tests of the CRM package use the shared CRM fixtures."""

from tests.support.crm import (  # noqa: F401
    crm_clock,
    crm_facade,
    crm_org,
    dynamics_gateway,
    embedded_crm,
    embedded_gateway,
)
