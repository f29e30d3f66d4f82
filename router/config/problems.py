"""Turning pydantic's validation errors into ``Problem`` entries an admin can act on.

Key paths are written the way TOML writes them (``profiles.onprem.oauth.tenant_id``,
``users[2].address``); unknown keys get a "did you mean" and, when they look like a secret, a reminder
that secrets belong in the vault. Input values are never echoed: a misplaced password must not leak.
"""

from __future__ import annotations

import difflib
import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from router.errors import Problem

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "key")


def key_path(*parts: str | int) -> str:
    """Join TOML key parts: names are quoted when not bare, list indexes shown as ``[i]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            text = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out


def problems_from(error: ValidationError, model: type[BaseModel], file: str,
                  *prefix: str | int) -> list[Problem]:
    """Return one ``Problem`` per pydantic error, its key path prefixed with ``prefix``."""
    return [Problem(file, key_path(*prefix, *err["loc"]), _message(err, model)) for err in error.errors()]


def _message(err: ErrorDetails, model: type[BaseModel]) -> str:
    loc, kind = err["loc"], err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _model_at(model, loc[:-1]))
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "address":
        return "not an email address: expected name@domain"
    if kind == "timezone_aware":
        return "needs a UTC offset, e.g. 2024-05-01T00:00:00Z"
    if kind in ("model_type", "dict_type"):
        return "must be a table"
    return str(err["msg"])


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    text = "unknown key"
    if model is not None:
        close = difflib.get_close_matches(key, list(model.model_fields), n=1)
        text += f"; did you mean {close[0]!r}?" if close else \
            f" (allowed: {', '.join(model.model_fields)})"
    if any(word in key.lower() for word in _SECRET_WORDS):
        text += " Profiles never hold secrets: store it with `email-router credentials set NAME` and " \
            "name that credential here"
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """Follow field names from ``model`` down ``loc``; None where the path leaves nested models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if _is_model(current) else None


def _unwrap(annotation: Any) -> Any:
    """Reduce ``X | None``, ``list[X]`` and ``dict[str, X]`` to ``X``."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    if origin in (list, dict):
        return _unwrap(get_args(annotation)[-1])
    return annotation


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)
