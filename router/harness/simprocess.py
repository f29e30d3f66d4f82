"""The EWS simulator in a process of its own, started with `email-router simulate ews`.

The benchmark must tell the client's CPU from the server's, and the soak must be able to kill the
router without touching the server, so both run the simulator as a separate process and drive it
through its JSON control API over one kept-alive HTTPS session. ``SimulatorProcess`` starts it on a
free port, waits for the ``control.json`` it writes once listening, and stops it with SIGTERM (SIGKILL
if it does not exit). Its output goes to ``simulator.log`` in the work directory.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from router.errors import HarnessError
from router.harness.procstat import Usage, usage
from router.simulator.client import CONTROL_FILE

START_SECONDS = 60.0
STOP_SECONDS = 10.0


class SimulatorProcess:
    """One `email-router simulate ews` subprocess seeded from ``seed`` (a dict as JSON, or a file)."""

    def __init__(self, workdir: Path, seed: dict[str, Any] | Path, *, python: str = sys.executable,
                 options: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self._options = options
        """Further options of `email-router simulate ews` (``--max-streaming-connections 50``)."""
        self.state_dir = workdir / "simulator"
        self.log_path = workdir / "simulator.log"
        self._python = python
        self._seed = seed
        self._process: subprocess.Popen[bytes] | None = None
        self._session: requests.Session | None = None
        self._info: dict[str, Any] = {}

    # Life cycle --------------------------------------------------------------------------------------

    def start(self) -> SimulatorProcess:
        """Start the simulator and wait until it answers; HarnessError (with its log) if it does not."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / CONTROL_FILE).unlink(missing_ok=True)
        seed = self._seed_file()
        command = [self._python, "-m", "router", "--home", str(self.workdir / "sim-home"), "simulate", "ews",
                   "--seed", str(seed), "--port", "0", "--state-dir", str(self.state_dir), *self._options]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _seed_file(self) -> Path:
        if isinstance(self._seed, Path):
            return self._seed
        path = self.workdir / "seed.json"
        path.write_text(json.dumps(self._seed), encoding="utf-8")
        return path

    def _wait_ready(self) -> None:
        control = self.state_dir / CONTROL_FILE
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise HarnessError(f"the EWS simulator exited with status {self._process.returncode}:\n"
                                   f"{self.log_tail()}", path=str(self.log_path),
                                   hint="read the simulator's log above")
            if control.exists():
                self._info = json.loads(control.read_text())
                self._session = requests.Session()
                self._session.headers["Authorization"] = f"Bearer {self._info['token']}"
                self.call("GET", "state")
                return
            time.sleep(0.05)
        raise HarnessError(f"the EWS simulator did not start within {START_SECONDS:g} s",
                           path=str(self.log_path), hint="read the simulator's log")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call twice."""
        process, self._process = self._process, None
        session, self._session = self._session, None
        if session is not None:
            session.close()
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # What clients need -------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self._process is None:
            raise HarnessError("the EWS simulator is not running", hint="start() it first")
        return self._process.pid

    @property
    def base_url(self) -> str:
        return str(self._info["base_url"])

    @property
    def url(self) -> str:
        """The EWS endpoint."""
        return self.base_url + "/EWS/Exchange.asmx"

    @property
    def ca_file(self) -> Path:
        return Path(self._info["ca_file"])

    @property
    def _verify(self) -> str | bool:
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session-wide ``verify``.
        ca_file = self._info.get("ca_file")
        return str(ca_file) if ca_file else True

    def call(self, method: str, route: str, payload: dict[str, Any] | None = None,
             params: dict[str, str] | None = None) -> Any:
        """Call ``/_control/<route>``; HarnessError with the simulator's answer if it refuses."""
        if self._session is None:
            raise HarnessError("the EWS simulator is not running", hint="start() it first")
        try:
            response = self._session.request(method, f"{self.base_url}/_control/{route}", json=payload,
                                             params=params, timeout=60, verify=self._verify)
        except requests.RequestException as exc:
            raise HarnessError(f"cannot reach the EWS simulator's control API: {exc}",
                               path=str(self.log_path), hint="read the simulator's log") from exc
        if response.status_code != 200:
            raise HarnessError(f"the EWS simulator refused {method} {route}: {response.text[:500]}",
                               hint="see router/simulator/control.py for the routes")
        return response.json() if response.content else None

    def usage(self) -> Usage:
        """The simulator process's CPU seconds so far and resident memory."""
        return usage(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # Control API shortcuts ---------------------------------------------------------------------------

    def inject(self, mailbox: str, raw: bytes) -> str:
        """Deliver an RFC 822 message to ``mailbox``'s Inbox; return its EWS item id."""
        payload = {"mailbox": mailbox, "eml_base64": base64.b64encode(raw).decode()}
        answer = self.call("POST", "inject", payload)
        return str(answer["id"])

    def messages(self, mailbox: str, folder: str = "inbox") -> list[dict[str, Any]]:
        """The messages of a folder, as the control API shows them (with their MIME)."""
        params = {"address": mailbox, "folder": folder}
        result: list[dict[str, Any]] = self.call("GET", "mailbox", params=params)
        return result

    def journal(self) -> list[dict[str, Any]]:
        """What external recipients received."""
        result: list[dict[str, Any]] = self.call("GET", "journal")
        return result

    def fault(self, kind: str, *, rate: float, operation: str = "*", back_off_ms: int = 1000,
              delay_seconds: float = 1.0) -> None:
        self.call("POST", "faults", {"kind": kind, "operation": operation, "rate": rate,
                                     "back_off_ms": back_off_ms, "delay_seconds": delay_seconds})

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")
