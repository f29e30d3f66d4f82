"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader (or the service after a crash) therefore sees either the old file or the new one, never a
half-written file. Everything the router keeps that holds secrets is written with mode 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from router.errors import RouterError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def write_atomic(path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically; the file gets ``mode`` whatever the umask."""
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE) -> bool:
    """Create ``path`` with ``data`` atomically unless it exists; return False if it already existed.

    A hard link from a fully written temp file either creates the name or fails, so two writers racing
    for the same name can never both succeed, and nobody sees a partial file.
    """
    tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


@contextlib.contextmanager
def os_errors_as(error: type[RouterError], path: Path, what: str) -> Iterator[None]:
    """Turn an ``OSError`` while doing ``what`` with ``path`` into ``error`` saying how to fix it."""
    try:
        yield
    except OSError as exc:
        raise error(
            f"cannot {what} ({type(exc).__name__}: {exc.strerror or exc})", path=str(path),
            hint="check that the directory exists, has free space and is writable by the account "
            "running email-router",
        ) from exc


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; a directory we create is readable by its owner only."""
    if not path.is_dir():
        path.mkdir(parents=True, mode=PRIVATE_DIR_MODE, exist_ok=True)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename survives a power cut (a no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    ensure_private_dir(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
