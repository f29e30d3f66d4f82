"""EWS operations, one module per family; importing this package registers them all in OPERATIONS."""

from router.simulator.operations import (  # noqa: F401  (imported for their @operation registrations)
    attachments,
    convert,
    directory,
    folder_changes,
    folders,
    inbox_rules,
    items,
    move,
    notifications,
    send,
    sync,
    update,
)
from router.simulator.operations.base import OPERATIONS, Ctx, ItemError

__all__ = ["OPERATIONS", "Ctx", "ItemError"]
