"""The embedded CRM: a SQLite CRM with Dynamics' e-mail semantics, and its in-process gateway."""

from router.crm.embedded.admin import MailboxSettings
from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.gateway import EmbeddedGateway
from router.crm.embedded.outgoing import Draft

__all__ = ["Draft", "EmbeddedCrm", "EmbeddedGateway", "MailboxSettings"]
