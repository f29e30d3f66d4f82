"""Load a profiles directory: every ``*.toml`` file, merged and validated, every problem reported at once.

Each entry (a profile, a deployment, a mailbox) is validated on its own, so one broken entry does not
hide the problems of its neighbours, and references to an entry that failed validation are not
reported a second time as dangling.
"""

from __future__ import annotations

import logging
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.common import NAME_PATTERN
from router.config.deployment import Deployment
from router.config.problems import key_path, problems_from
from router.config.profile import Profile
from router.config.profileset import ProfileFile, ProfileSet
from router.config.rules import check_profile_set, resolve_tls
from router.config.settings import SystemSettings
from router.errors import ConfigError, Problem, ProfileValidationError
from router.vault.credentials import CredentialKind

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_NAME = re.compile(NAME_PATTERN)
_NAMED: dict[str, type[Profile] | type[Deployment]] = {"profiles": Profile, "deployments": Deployment}
_LISTED: dict[str, type[MailboxBinding] | type[ForwardMailbox]] = {
    "users": MailboxBinding, "queues": MailboxBinding, "forward_mailboxes": ForwardMailbox}


@dataclass
class _Collected:
    """Entries gathered from every file, with where each came from."""

    named: dict[str, dict[str, Any]] = field(default_factory=lambda: {"profiles": {}, "deployments": {}})
    listed: dict[str, list[Any]] = field(
        default_factory=lambda: {"users": [], "queues": [], "forward_mailboxes": []})
    origins: dict[tuple[str, str | int], tuple[str, str]] = field(default_factory=dict)
    settings: SystemSettings | None = None
    settings_file: str | None = None
    problems: list[Problem] = field(default_factory=list)


def profile_files(directory: Path) -> list[Path]:
    """The files a profiles directory contributes: regular ``*.toml`` files, sorted, hidden files skipped."""
    return sorted(p for p in _toml_entries(directory) if p.is_file() and not p.is_symlink())


def special_entries(directory: Path) -> list[Problem]:
    """A problem for each ``*.toml`` entry that is not a regular file: a symbolic link (whose target
    could be swapped or lie outside the directory), a FIFO (which would block the reader), a device,
    a socket or a directory. None of them is read or followed."""
    problems = []
    for path in sorted(_toml_entries(directory)):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            problems.append(Problem(str(path), "", "is a symbolic link, which is not followed: put the file "
                                    "itself in the profiles directory"))
        elif not stat.S_ISREG(mode):
            problems.append(Problem(str(path), "", f"is not a regular file ({_kind(mode)}): remove it or "
                                    "replace it with a regular file"))
    return problems


def _toml_entries(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".toml") and not p.name.startswith(".")]


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def load_profiles(directory: str | Path, *,
                  credentials: Mapping[str, CredentialKind] | None = None) -> ProfileSet:
    """Load and validate every profiles file in ``directory``.

    When ``credentials`` (name -> kind, e.g. ``Vault.kinds()``) is given, every credential reference
    must name a stored credential of the right kind. Raises ``ProfileValidationError`` carrying every
    problem, or ``ConfigError`` when the directory itself is missing.
    """
    base = Path(directory)
    if not base.is_dir():
        raise ConfigError(f"profiles directory {base} does not exist", path=str(base),
                          hint="pass the directory holding your *.toml profiles, e.g. `profiles/`")
    special = special_entries(base)
    files = profile_files(base)
    if not files and special:
        raise ProfileValidationError(special)
    if not files:
        raise ProfileValidationError(
            [Problem(str(base), "", "no *.toml files in the profiles directory")],
            hint="add profiles; the samples in the project's profiles/ show each kind")
    collected = _Collected(problems=special)
    for path in files:
        _collect_file(path, collected)
    profile_set = _assemble(collected, base)
    problems = collected.problems + _check(profile_set, collected, str(base), credentials)
    if problems:
        raise ProfileValidationError(problems)
    log.debug("loaded %d profiles, %d deployments, %d mailboxes from %s", len(profile_set.profiles),
              len(profile_set.deployments), len(profile_set.mailboxes()), base)
    return profile_set


def _collect_file(path: Path, into: _Collected) -> None:
    data = _read_toml(path, into.problems)
    if data is None:
        return
    name = str(path)
    for key in data:
        if key not in ProfileFile.model_fields:
            into.problems.append(Problem(name, key_path(key), _top_level_unknown(key)))
    for section, model in _NAMED.items():
        for entry_name, raw in _table(data, section, name, into.problems).items():
            _collect_named(section, model, entry_name, raw, name, into)
    for section, model_type in _LISTED.items():
        for index, raw in enumerate(_array(data, section, name, into.problems)):
            entry = _validate(model_type, raw, name, into.problems, section, index)
            if entry is not None:
                into.origins[(section, len(into.listed[section]))] = (name, key_path(section, index))
                into.listed[section].append(entry)
    if "settings" in data:
        _collect_settings(data["settings"], name, into)


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(str(path), "", "not UTF-8 text: save the file as UTF-8"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(str(path), "", f"not valid TOML: {exc}"))
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot be read ({type(exc).__name__}): check permissions"))
    return None


def _collect_named(section: str, model: type[BaseModel], entry_name: str, raw: object, file: str,
                   into: _Collected) -> None:
    where = key_path(section, entry_name)
    if not _NAME.match(entry_name):
        into.problems.append(Problem(file, where, "invalid name: use letters, digits, '.', '_' or '-', "
                                     "starting with a letter or digit (max 64)"))
    previous = into.origins.get((section, entry_name))
    if previous is not None:
        into.problems.append(Problem(file, where, f"defined twice: also in {previous[0]}"))
        return
    into.origins[(section, entry_name)] = (file, where)
    into.named[section][entry_name] = _validate(model, raw, file, into.problems, section, entry_name)


def _collect_settings(raw: object, file: str, into: _Collected) -> None:
    if into.settings_file is not None:
        into.problems.append(
            Problem(file, "settings", f"[settings] appears twice: also in {into.settings_file}"))
        return
    into.settings_file = file
    into.origins[("settings", "settings")] = (file, "settings")
    into.settings = _validate(SystemSettings, raw, file, into.problems, "settings")


def _validate(model: type[M], raw: object, file: str, problems: list[Problem],
              *prefix: str | int) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(problems_from(exc, model, file, *prefix))
        return None


def _table(data: dict[str, Any], section: str, file: str, problems: list[Problem]) -> dict[str, Any]:
    value = data.get(section, {})
    if isinstance(value, dict):
        return value
    problems.append(Problem(file, section, f"must be a table of named entries: [{section}.NAME]"))
    return {}


def _array(data: dict[str, Any], section: str, file: str, problems: list[Problem]) -> list[Any]:
    value = data.get(section, [])
    if isinstance(value, list):
        return value
    problems.append(Problem(file, section, f"must be an array of tables: [[{section}]]"))
    return []


def _top_level_unknown(key: str) -> str:
    allowed = ", ".join(ProfileFile.model_fields)
    return f"unknown top-level key (allowed: {allowed})"


def _assemble(c: _Collected, base: Path) -> ProfileSet:
    profiles = {n: p.model_copy(update={"tls": resolve_tls(p.tls, base)})
                for n, p in c.named["profiles"].items() if p is not None}
    deployments = {n: _resolve_deployment(d, base)
                   for n, d in c.named["deployments"].items() if d is not None}
    return ProfileSet(profiles=profiles, deployments=deployments, users=c.listed["users"],
                      queues=c.listed["queues"], forward_mailboxes=c.listed["forward_mailboxes"],
                      settings=c.settings or SystemSettings())


def _resolve_deployment(d: Deployment, base: Path) -> Deployment:
    if d.dynamics is None:
        return d
    return d.model_copy(update={"dynamics": d.dynamics.model_copy(
        update={"tls": resolve_tls(d.dynamics.tls, base)})})


def _check(ps: ProfileSet, c: _Collected, base: str,
           credentials: Mapping[str, CredentialKind] | None) -> list[Problem]:
    # A reference to an entry that failed validation was already reported with that entry's problems.
    broken = frozenset(name for section in c.named.values() for name, entry in section.items()
                       if entry is None)
    problems = check_profile_set(ps, lambda section, key: c.origins[(section, key)], credentials,
                                 unchecked=broken)
    if not c.named["deployments"]:
        problems.insert(0, Problem(base, "deployments", "no deployment defined: add a [deployments.NAME] "
                                   "table naming the CRM and the default profiles"))
    return problems
