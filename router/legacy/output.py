"""Write an import into its output directory, validated before anything lands there.

The files are written into a staging directory beside the target, loaded back with the profiles loader
(so the result is known to pass `email-router profiles validate`), and only then moved into place. A
non-empty target is refused unless ``force`` is given; ``force`` replaces the files of a previous import
and leaves every other file alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from router.config.loader import load_profiles, profile_files
from router.config.writer import write_profile_file
from router.errors import LegacyImportError, ProfileValidationError, UsageError
from router.legacy.importer import OUTPUT_FILES, SETTINGS_FILE, ImportResult
from router.legacy.report import CREDENTIALS_FILE, REPORT_FILE, credentials_text, report_text
from router.vault.atomic import fsync_dir, write_atomic

REPORT_FILES = (CREDENTIALS_FILE, REPORT_FILE)


def check_target(out_dir: Path, *, force: bool) -> None:
    """Refuse a target that is a file, or a non-empty directory without ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} exists and is not a directory", path=str(out_dir),
                         hint="choose a new or empty directory for the imported profiles")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(f"{out_dir} is not empty", path=str(out_dir),
                         hint="choose an empty directory, or pass --force to replace the files of a "
                         "previous import (other files are left alone)")


def _header(result: ImportResult, name: str) -> str:
    return (f"Imported from the legacy E-mail Router by `email-router import-legacy` at "
            f"{result.imported_at}.\nSources: {', '.join(result.sources) or '-'}\n"
            f"See {REPORT_FILE} for what could not be carried over, and {CREDENTIALS_FILE} for the "
            f"credentials to set.\nThis file: {name}")


def _stage(result: ImportResult, staging: Path) -> None:
    """Write every file into ``staging`` and prove the profiles load and validate together."""
    for name, content in result.files.items():
        # Settings are written in full, so the admin sees every knob the service will run with;
        # elsewhere defaults are left out, so the files read like hand-written ones.
        write_profile_file(staging / name, content, header=_header(result, name),
                           defaults=name == SETTINGS_FILE)
    try:
        load_profiles(staging)
    except ProfileValidationError as exc:
        raise LegacyImportError(
            f"the generated profiles do not validate, which the importer is built to prevent:\n{exc.message}",
            hint="please report this with the legacy files (passwords in them are encrypted); nothing was "
            "written to the output directory") from exc
    write_atomic(staging / CREDENTIALS_FILE, credentials_text(result.credentials).encode(), mode=0o644)
    write_atomic(staging / REPORT_FILE, report_text(result).encode(), mode=0o644)


def write_import(result: ImportResult, out_dir: Path, *, force: bool) -> list[Path]:
    """Write ``result`` into ``out_dir``; return the other ``*.toml`` files already there, if any.

    Raises UsageError for a non-empty target without ``force``, and LegacyImportError when the
    directory cannot be written or (a bug: the import is designed so they always do) the generated
    profiles do not validate.
    """
    check_target(out_dir, force=force)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.import-", dir=out_dir.parent))
    except OSError as exc:
        raise LegacyImportError(f"cannot write beside {out_dir}: {exc.strerror or exc}", path=str(out_dir),
                                hint="choose a directory you can write to") from exc
    try:
        _stage(result, staging)
        _move_into_place(staging, out_dir, set(result.files) | set(REPORT_FILES))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [p for p in profile_files(out_dir) if p.name not in OUTPUT_FILES]


def _move_into_place(staging: Path, out_dir: Path, names: set[str]) -> None:
    """Move the staged files into ``out_dir``, removing files of a previous import not written now."""
    try:
        out_dir.mkdir(exist_ok=True)
        for stale in set(OUTPUT_FILES) - names:
            (out_dir / stale).unlink(missing_ok=True)
        for name in sorted(names):
            os.replace(staging / name, out_dir / name)
        fsync_dir(out_dir)
    except OSError as exc:
        raise LegacyImportError(f"cannot write into {out_dir}: {exc.strerror or exc}", path=str(out_dir),
                                hint="check the directory's permissions") from exc
