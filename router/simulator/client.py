"""A client for a running simulator's JSON control API (what the `simulate` tester commands use).

A started simulator writes ``control.json`` (base URL, CA file, control token) into its state
directory; the client reads it from there, so testers never copy tokens around.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests

from router.errors import SimulatorError

CONTROL_FILE = "control.json"


def write_control_file(state_dir: Path, base_url: str, ca_file: Path | None, token: str) -> Path:
    """Record how to reach the running simulator (0600: it holds the control token)."""
    path = state_dir / CONTROL_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"base_url": base_url, "ca_file": str(ca_file) if ca_file else None, "token": token}, fh)
    os.replace(tmp, path)
    return path


class ControlClient:
    """Calls /_control/ on a running simulator."""

    def __init__(self, base_url: str, ca_file: str | None, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.verify: str | bool = ca_file or True
        self.token = token

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> ControlClient:
        path = state_dir / CONTROL_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SimulatorError(
                "no running simulator found",
                path=str(path),
                hint="start one with `email-router simulate ews` (same --home / --state-dir)",
            ) from exc
        return cls(data["base_url"], data.get("ca_file"), data["token"])

    def call(
        self,
        method: str,
        route: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.base_url}/_control/{route}"
        try:
            with requests.Session() as session:
                response = session.request(
                    method,
                    url,
                    json=payload,
                    params=params,
                    verify=self.verify,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=30,
                )
        except requests.RequestException as exc:
            raise SimulatorError(
                f"cannot reach the simulator at {self.base_url}: {exc}",
                hint="is `email-router simulate ews` still running?",
            ) from exc
        data = response.json() if response.content else None
        if response.status_code != 200:
            error = data.get("error", response.text) if isinstance(data, dict) else response.text
            hint = data.get("hint", "") if isinstance(data, dict) else ""
            raise SimulatorError(f"the simulator refused the request: {error}", hint=hint)
        return data
