"""The shipped systemd unit is hardened (issue #14, case 9) and is a unit systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "scripts" / "email-router.service"

REQUIRED = {
    "PrivateDevices": "true", "ProtectKernelTunables": "true", "ProtectKernelModules": "true",
    "ProtectKernelLogs": "true", "ProtectControlGroups": "true", "RestrictNamespaces": "true",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet": "",
    "SystemCallFilter": "@system-service", "UMask": "0077", "NoNewPrivileges": "true",
    "ProtectSystem": "strict", "ProtectHome": "true",
}


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_sets_every_hardening_directive() -> None:
    found = directives()
    missing = {k: v for k, v in REQUIRED.items() if v not in found.get(k, [])}
    assert missing == {}
    assert found.get("MemoryMax"), "MemoryMax bounds a runaway process"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit = tmp_path / "email-router.service"
    # The real ExecStart names the installed venv, which does not exist on a build machine.
    unit.write_text(UNIT.read_text().replace("/opt/email-router/bin/email-router run", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [line for line in done.stderr.splitlines() if "email-router.service" in line]
    assert done.returncode == 0 and problems == [], done.stderr
