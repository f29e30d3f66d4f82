"""Fixtures of the flow tests: the EWS simulator over HTTPS, the embedded CRM in the home, a publisher."""

from __future__ import annotations

from tests.flows.kit import contoso, facade, frozen
from tests.support.ews_simulator import ews_schema, ews_simulator, ews_tls_dir

__all__ = ["contoso", "ews_schema", "ews_simulator", "ews_tls_dir", "facade", "frozen"]
