"""What the figures were measured on: date, CPU, core count, Python and the libraries that matter."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("exchangelib", "requests", "urllib3", "lxml", "SQLAlchemy", "email-router")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, str | int]:
    """Date, CPU model, ``nproc``, OS, Python and package versions, ready for the JSON report."""
    info: dict[str, str | int] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "nproc": len(os.sched_getaffinity(0)),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for name in PACKAGES:
        info[name] = _version(name)
    return info
