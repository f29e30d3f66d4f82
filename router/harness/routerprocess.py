"""`email-router run` as a subprocess: started, watched through its status endpoint, stopped or killed.

The soak kills it with SIGKILL at random moments and starts it again on the same home; the benchmark
reads its CPU and memory from ``/proc``. The status endpoint listens on a free port; its URL is read
from the line `email-router run` prints at start. Output is appended to ``router.log`` next to the home.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from types import TracebackType

import requests

from router.errors import HarnessError
from router.harness.procstat import Usage, usage
from router.harness.routerhome import RouterHome, router_environment

READY_SECONDS = 120.0
GRACE_SECONDS = 5.0
"""`--grace`: how long runs in flight may take after SIGTERM."""
SECOND_SIGNAL_AFTER = GRACE_SECONDS + 2.0
"""When the router has not exited this long after SIGTERM, a second SIGTERM tells it not to wait."""
KILL_AFTER = 3.0
"""Seconds after the second SIGTERM before SIGKILL."""
_STATUS_URL = re.compile(r"status at (http://\S+?);")


class RouterProcess:
    """One `email-router run` subprocess on a prepared ``RouterHome``."""

    def __init__(self, home: RouterHome, *, extra_args: tuple[str, ...] = ()) -> None:
        self.home = home
        self.log_path = home.root.parent / f"{home.root.name}-router.log"
        self._extra = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self.status_url = ""
        self.starts = 0
        self.last_pid = 0

    def start(self, *, wait_ready: bool = True) -> RouterProcess:
        """Start the router; with ``wait_ready``, return once /readyz answers 200."""
        if self.running:
            raise HarnessError("the router is already running", hint="stop() or kill() it first")
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = self.home.command("run", "--status-port", "0", "--grace", f"{GRACE_SECONDS:g}",
                                    "--no-log-stderr", *self._extra)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=router_environment())
        self.starts += 1
        self.last_pid = self._process.pid
        try:
            self.status_url = self._wait_for_status_url(offset)
            if wait_ready:
                self.wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_for_status_url(self, offset: int) -> str:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            self._check_alive()
            with self.log_path.open("rb") as log:
                log.seek(offset)
                found = _STATUS_URL.search(log.read().decode("utf-8", "replace"))
            if found:
                return found.group(1).rstrip("/")
            time.sleep(0.05)
        raise HarnessError(f"the router printed no status URL within {READY_SECONDS:g} s",
                           path=str(self.log_path), hint="read the router's log")

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        """Wait until /readyz answers 200 (a configuration is applied); HarnessError if it does not."""
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                self._check_alive()
                try:
                    if session.get(f"{self.status_url}/readyz", timeout=5).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.05)
        raise HarnessError(f"the router was not ready within {timeout:g} s", path=str(self.log_path),
                           hint="read the router's log")

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            raise HarnessError(f"the router exited with status {code}:\n{self.log_tail()}",
                               path=str(self.log_path), hint="read the router's log above")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise HarnessError("the router is not running", hint="start() it first")
        return self._process.pid

    def usage(self) -> Usage:
        """The router process's CPU seconds so far and its resident memory."""
        return usage(self.pid)

    def kill(self) -> None:
        """SIGKILL: no grace, no cleanup, as a crash or a power cut would leave it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """SIGTERM and wait while the router drains; a second SIGTERM, then SIGKILL, if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for signum, patience in ((signal.SIGTERM, SECOND_SIGNAL_AFTER), (signal.SIGTERM, KILL_AFTER)):
            process.send_signal(signum)
            try:
                process.wait(patience)
                return
            except subprocess.TimeoutExpired:
                continue
        process.kill()
        process.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the router's output and of its service log (LogFile)."""
        parts = []
        for path in (self.log_path, self.home.root / "logs" / "email-router.log"):
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(parts) or "(no log)"

    def __enter__(self) -> RouterProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
