"""The simulator's tests use the shared EWS simulator fixtures."""

from tests.support.ews_simulator import (
    ews_schema,
    ews_simulator,
    ews_tls_dir,
    exchangelib_trust,
    requires_ews_schema,
)

__all__ = ["ews_schema", "ews_simulator", "ews_tls_dir", "exchangelib_trust", "requires_ews_schema"]
