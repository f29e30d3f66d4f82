"""`console password`, the stored hash, paging 10,000 mailboxes, and when the console is served (TLS)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from router.cli.main import cli
from router.clock import FrozenClock
from router.console.overview import HealthFilter, mailbox_page
from router.console.password import CONSOLE_CREDENTIAL, console_password_hash, hash_password, verify_password
from router.console.serve import console_mount, is_loopback
from router.console.sessions import LoginLimiter, Sessions
from router.errors import ConfigError
from router.home import Home
from router.runtime.metrics import Metrics
from router.service.status_server import StatusServer
from router.simulator.tls import ensure_certificates
from router.state import Direction, DirectoryRow, StateStore
from router.vault import Vault
from tests.unit.console.conftest import CSRF_FIELD, PASSWORD, initialised


def test_console_password_from_stdin_keeps_only_a_scrypt_hash_in_the_vault(home: Home) -> None:
    assert CliRunner().invoke(cli, ["--home", str(home.root), "init"]).exit_code == 0
    assert console_password_hash(home) is None
    result = CliRunner().invoke(cli, ["--home", str(home.root), "console", "password", "--stdin"],
                                input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    stored = console_password_hash(home)
    assert stored is not None and stored.startswith("scrypt$32768$8$1$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "x", stored)
    assert CONSOLE_CREDENTIAL in Vault.open(home).names()
    assert PASSWORD.encode() not in home.vault_file.read_bytes()


def test_console_password_prompts_twice_without_echo(home: Home) -> None:
    assert CliRunner().invoke(cli, ["--home", str(home.root), "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--home", str(home.root), "console", "password"],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output and PASSWORD not in result.output
    stored = console_password_hash(home)
    assert stored is not None and verify_password(PASSWORD, stored)


def test_a_short_password_is_refused_with_a_hint(home: Home) -> None:
    assert CliRunner().invoke(cli, ["--home", str(home.root), "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--home", str(home.root), "console", "password", "--stdin"],
                                input="short\n")
    assert result.exit_code == 2 and "too short" in result.output and "hint:" in result.output
    assert console_password_hash(home) is None


def test_hashes_are_salted_and_junk_never_verifies() -> None:
    first, second = hash_password("same password", n=2**10), hash_password("same password", n=2**10)
    assert first != second and verify_password("same password", first)
    for junk in ("", "scrypt$x", "md5$1$2$3$aa$bb", "scrypt$1024$8$1$!!$??"):
        assert not verify_password("same password", junk)


def test_sessions_expire_when_unused_and_the_limiter_forgets_old_addresses() -> None:
    clock = FrozenClock()
    sessions = Sessions(clock, idle_seconds=60)
    first = sessions.create()
    clock.advance(30)
    assert sessions.get(first.token) is first, "used within the hour: still valid, and renewed"
    clock.advance(61)
    assert sessions.get(first.token) is None
    assert sessions.get("") is None and sessions.get("made-up") is None
    limiter = LoginLimiter(clock, attempts=2, window_seconds=10)
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    assert 0 < limiter.retry_after("10.0.0.1") <= 11 and limiter.retry_after("10.0.0.2") == 0
    clock.advance(11)
    assert limiter.retry_after("10.0.0.1") == 0


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.1.2.3", "router.contoso.com"))


def test_elsewhere_than_loopback_the_console_needs_tls(home: Home) -> None:
    initialised(home)
    with console_mount(home, FrozenClock(), Metrics(), None, host="0.0.0.0") as mount:
        assert mount.console is None and mount.ssl_context is None
        assert "--tls-cert" in mount.note


def test_a_bad_certificate_is_a_clear_configuration_error(home: Home, tmp_path: Path) -> None:
    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"cert\.pem") as caught, \
            console_mount(home, FrozenClock(), Metrics(), None, host="0.0.0.0", tls_cert=bogus):
        pass
    assert "--tls-key" in (caught.value.hint or "")


def test_under_tls_the_whole_address_is_https_and_the_cookie_is_secure(home: Home, cert_dir: Path) -> None:
    initialised(home)
    files = ensure_certificates(cert_dir, ["localhost", "127.0.0.1"])
    with console_mount(home, FrozenClock(), Metrics(), None, host="127.0.0.1", tls_cert=files.cert_file,
                       tls_key=files.key_file) as mount, \
            StatusServer(Metrics(), console=mount.console, ssl_context=mount.ssl_context) as server:
        assert server.url.startswith("https://")
        session, ca = requests.Session(), str(files.ca_file)  # verify per call: env bundles win over session
        assert session.get(f"{server.url}/healthz", verify=ca).status_code == 200
        token = CSRF_FIELD.search(session.get(f"{server.url}/login", verify=ca).text)
        assert token is not None
        answer = session.post(f"{server.url}/login", data={"csrf": token.group(1), "password": PASSWORD},
                              allow_redirects=False, verify=ca)
        assert answer.status_code == 303 and "Secure" in answer.headers["Set-Cookie"]
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(server.url.replace("https://", "http://") + "/healthz", timeout=5)


def test_ten_thousand_mailboxes_are_filtered_and_paged(home: Home,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    clock = FrozenClock(datetime(2026, 12, 7, tzinfo=UTC))
    with StateStore.open_home(home, clock) as store:
        now = clock.now()
        store.directory.replace(
            DirectoryRow(f"user{i:05d}@contoso.com", way, "contoso", "user", "crm", True, "", "exchange",
                         None, 1, now) for i in range(10_000) for way in Direction)
        for i in range(0, 10_000, 1000):
            store.health.record_failure(f"user{i:05d}@contoso.com", Direction.INCOMING, error="busy")
        started = time.perf_counter()
        page = mailbox_page(store, page=200)
        elapsed = time.perf_counter() - started
        assert (page.total, page.pages, page.page, len(page.rows)) == (10_000, 200, 200, 50)
        assert page.rows[-1].mailbox == "user09999@contoso.com"
        failing = mailbox_page(store, health=HealthFilter.FAILURE)
        assert failing.total == 10 and failing.rows[1].mailbox == "user01000@contoso.com"
        narrowed = mailbox_page(store, query="USER0999")
        assert narrowed.total == 10 and narrowed.pages == 1
        assert mailbox_page(store, page=999).page == 200, "a page past the end shows the last one"
    with capsys.disabled():
        print(f"\n[console] one page of 10,000 mailboxes read in {elapsed * 1000:.0f} ms")
