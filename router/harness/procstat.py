"""CPU time and resident memory of a process, read from ``/proc`` (Linux).

The benchmark runs the simulator and the router in their own processes so that each side's CPU can be
told apart; this module is how the harness reads them. Reading another process's ``/proc`` entry costs
no CPU in that process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from router.errors import HarnessError

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    """A process's user + system CPU seconds so far and its resident set size in bytes."""

    cpu_seconds: float
    rss_bytes: int

    @property
    def rss_mib(self) -> float:
        return self.rss_bytes / (1024 * 1024)


def usage(pid: int) -> Usage:
    """CPU (user + system, this process's threads) and RSS of ``pid``; HarnessError if it is gone."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read the usage of process {pid}: {exc.strerror}",
                           path=str(stat), hint="the process has exited; see its log") from exc
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    fields = text[text.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return Usage((utime + stime) / _TICKS, int(statm.split()[1]) * _PAGE)


def own_cpu() -> float:
    """CPU seconds of the current process (every thread)."""
    return time.process_time()
