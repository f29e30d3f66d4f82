"""Shutdown signal handling: installed only inside its block, first signal recorded, second forces exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from router.service.signals import ShutdownSignals, forced_exit_status


def test_importing_the_service_and_cli_installs_no_handler() -> None:
    code = ("import signal, router.cli.main, router.service.service, router.cli.run; "
            "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "
            "signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["True", "True"]


def test_first_signal_is_recorded_second_forces_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    forced: list[int] = []
    with ShutdownSignals(force=forced.append, signals=[signal.SIGTERM]) as signals:
        assert signals.received is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.received == signal.SIGTERM and forced == []
        os.kill(os.getpid(), signal.SIGTERM)
        assert forced == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == before


def test_handlers_need_the_main_thread() -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            with ShutdownSignals():
                pass
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=install)
    worker.start()
    worker.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_forced_exit_status_follows_the_shell_convention(signum: signal.Signals, status: int) -> None:
    assert forced_exit_status(signum) == status
