"""Where the tests find Microsoft's EWS schema: ``$EWS_SCHEMA_DIR``, else ``../shared/ews-schema`` beside
the clone (the developers' and CI's layout). A user's clone has neither, and the suite then runs the same
tests unvalidated; the product itself never looks for the schema.
"""

from __future__ import annotations

import os
from pathlib import Path

from router.errors import SimulatorError

ENV_SCHEMA_DIR = "EWS_SCHEMA_DIR"
CLONE = Path(__file__).resolve().parents[2]
"""The repository's root (tests/support/schema.py is two levels below it)."""


def find_schema_dir(clone: Path = CLONE) -> Path | None:
    """The schema directory, or None when the variable is unset and no shared copy is beside ``clone``.

    A variable that names a directory without ``messages.xsd`` is an error: validation was asked for.
    """
    env = os.environ.get(ENV_SCHEMA_DIR)
    if env:
        if not (Path(env) / "messages.xsd").is_file():
            raise SimulatorError(
                f"{ENV_SCHEMA_DIR}={env} holds no messages.xsd",
                hint=f"point {ENV_SCHEMA_DIR} at the directory with messages.xsd and types.xsd, or unset it",
            )
        return Path(env)
    candidate = clone.parent / "shared" / "ews-schema"
    return candidate if (candidate / "messages.xsd").is_file() else None
