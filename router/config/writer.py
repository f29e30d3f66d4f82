"""Write configuration models back as TOML, for tools that generate profiles (e.g. the legacy importer)
and for showing a published configuration in the form admins edit.

Unset optional keys are left out, so the output reads like a hand-written profiles file and loads back
to the same models.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel

from router.vault.atomic import write_atomic


def to_toml(model: BaseModel, *, defaults: bool = True) -> str:
    """Return ``model`` (a ``ProfileFile``, ``ProfileSet`` or any config model) as TOML text.

    ``defaults=False`` leaves out keys left at their default, for files meant to be edited by hand.
    """
    data = model.model_dump(mode="python", exclude_none=True, exclude_defaults=not defaults)
    return tomli_w.dumps(_plain(data))


def write_profile_file(path: Path, model: BaseModel, *, header: str = "", defaults: bool = False) -> None:
    """Write ``model`` as a profiles file atomically, with optional ``header`` comment lines on top."""
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    text = comment + ("\n" if comment else "") + to_toml(model, defaults=defaults)
    write_atomic(path, text.encode("utf-8"), mode=0o644)


def _plain(value: Any) -> Any:
    """Reduce model data to what TOML can hold: enums, URLs, paths and UUIDs become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not _empty_table(v)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool | int | float | str | datetime):
        return value
    return str(value)


def _empty_table(value: Any) -> bool:
    return isinstance(value, dict | list) and not value
