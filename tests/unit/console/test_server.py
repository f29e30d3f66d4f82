"""The console over real HTTP (requests against the status server): what is open, sign-in, sessions,
CSRF refusal, redirects, 401 for API calls, the failed-login limit, and the actions' effects."""

from __future__ import annotations

import logging

import pytest
import requests

from router.console.views import message_headers
from router.state import Direction, QuarantineStatus
from tests.unit.console.conftest import ALICE, BOB, CSRF_FIELD, PASSWORD, Site


def test_metrics_and_probes_stay_open_without_a_login(site: Site) -> None:
    for path in ("/metrics", "/healthz", "/readyz"):
        assert requests.get(f"{site.url}{path}").status_code == 200, path
    assert "email_router_build_info" in requests.get(f"{site.url}/metrics").text


@pytest.mark.parametrize("path", ["/", "/mailboxes", f"/mailboxes/{ALICE}", "/alerts", "/quarantine",
                                  "/quarantine/1", "/trace?message_id=x", "/charts", "/published"])
def test_every_page_redirects_to_the_login_without_a_session(site: Site, path: str) -> None:
    answer = requests.get(f"{site.url}{path}", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/login")
    assert "Alice" not in answer.text and ALICE not in answer.text


def test_api_and_htmx_calls_get_401_not_a_redirect(site: Site) -> None:
    assert requests.get(f"{site.url}/api/series", allow_redirects=False).status_code == 401
    htmx = requests.get(f"{site.url}/mailboxes", headers={"HX-Request": "true"}, allow_redirects=False)
    assert htmx.status_code == 401


def test_the_login_form_is_labelled_and_a_login_sets_a_strict_http_only_cookie(site: Site) -> None:
    form = requests.get(f"{site.url}/login")
    assert form.status_code == 200
    assert '<label for="password">' in form.text and 'type="password"' in form.text
    assert form.headers["Content-Security-Policy"].startswith("default-src 'self'")
    answer = site.login(next_path="/alerts")
    assert answer.status_code == 303 and answer.headers["Location"] == "/alerts"
    cookie = answer.headers["Set-Cookie"]
    assert "er_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie, "plain HTTP on loopback: a Secure cookie would never come back"


def test_after_login_the_mailboxes_page_shows_health(site: Site) -> None:
    session = site.signed_in()
    page = session.get(f"{site.url}/mailboxes")
    assert page.status_code == 200
    assert ALICE in page.text and BOB in page.text
    assert "Failure" in page.text and "stopped" in page.text and "Success" in page.text
    assert "1 in a row, failing since 2026-12-07 12:00" in page.text  # The streak's start, from the store.
    failing = session.get(f"{site.url}/mailboxes", params={"health": "failure"}).text
    assert ALICE in failing and BOB not in failing
    assert BOB in session.get(f"{site.url}/mailboxes", params={"q": "bob"}).text


def test_a_login_never_redirects_off_site(site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = site.login(next_path=target)
        assert answer.headers["Location"] == "/mailboxes", target


def test_a_wrong_password_is_refused_and_logged(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="router.console.app"):
        answer = site.login(password="wrong password!")
    assert answer.status_code == 401 and "Wrong password." in answer.text
    assert "er_session" not in answer.headers.get("Set-Cookie", "")
    assert any("failed login from 127.0.0.1" in r.getMessage() for r in caplog.records)
    assert all("wrong password!" not in r.getMessage() for r in caplog.records), "a password was logged"


def test_a_login_post_without_the_form_token_is_refused(site: Site) -> None:
    answer = requests.post(f"{site.url}/login", data={"password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 403 and "er_session" not in answer.headers.get("Set-Cookie", "")


def test_failed_logins_are_rate_limited_even_for_the_right_password(site: Site) -> None:
    for _ in range(5):
        assert site.login(password="not it at all").status_code == 401
    limited = site.login()
    assert limited.status_code == 429 and "Too many failed logins" in limited.text
    assert int(limited.headers["Retry-After"]) > 0
    site.clock.advance(301)
    assert site.login().status_code == 303


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    session = site.signed_in()
    for data in ({"note": "x"}, {"note": "x", "csrf": "forged"}):
        answer = session.post(f"{site.url}/quarantine/1/resolve", data=data, allow_redirects=False)
        assert answer.status_code == 403 and "security token" in answer.text
    assert site.store.quarantine.get(1).status is QuarantineStatus.OPEN


def test_quarantine_page_shows_headers_and_resolve_closes_the_entry(site: Site) -> None:
    session = site.signed_in()
    page = session.get(f"{site.url}/quarantine/1")
    assert "Subject" in page.text and "Broken" in page.text and "crm-refused" in page.text
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    answer = session.post(f"{site.url}/quarantine/1/resolve", data={"csrf": token.group(1), "note": "fixed"},
                          allow_redirects=False)
    assert answer.status_code == 303
    entry = site.store.quarantine.get(1)
    assert (entry.status, entry.resolution) == (QuarantineStatus.RESOLVED, "fixed")


def test_retry_reopens_the_entry_and_htmx_may_send_the_token_as_a_header(site: Site) -> None:
    session = site.signed_in()
    token = CSRF_FIELD.search(session.get(f"{site.url}/quarantine/1").text)
    assert token is not None
    answer = session.post(f"{site.url}/quarantine/1/retry", headers={"X-CSRF-Token": token.group(1)},
                          allow_redirects=False)
    assert answer.status_code == 303
    assert site.store.quarantine.get(1).status is QuarantineStatus.RETRY


def test_resume_lifts_the_stop(site: Site) -> None:
    session = site.signed_in()
    page = session.get(f"{site.url}/mailboxes/{ALICE}")
    assert "Resume incoming" in page.text and "Invalid credentials" in page.text
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    answer = session.post(f"{site.url}/mailboxes/{ALICE}/resume",
                          data={"csrf": token.group(1), "direction": "incoming"})
    assert answer.status_code == 200 and "incoming resumed" in answer.text
    assert site.store.health.get(ALICE, Direction.INCOMING).stopped is False


def test_a_refused_action_says_why(site: Site) -> None:
    session = site.signed_in()
    token = CSRF_FIELD.search(session.get(f"{site.url}/quarantine/1").text)
    assert token is not None
    session.post(f"{site.url}/quarantine/1/resolve", data={"csrf": token.group(1), "note": "done"})
    again = session.post(f"{site.url}/quarantine/1/retry", data={"csrf": token.group(1)})
    assert again.status_code == 409
    assert "is resolved and cannot be retried" in again.text and "hint: " in again.text


def test_an_unknown_mailbox_is_a_404(site: Site) -> None:
    answer = site.signed_in().get(f"{site.url}/mailboxes/nobody@contoso.com")
    assert answer.status_code == 404 and "no mailbox nobody@contoso.com" in answer.text


def test_logout_ends_the_session(site: Site) -> None:
    session = site.signed_in()
    token = CSRF_FIELD.search(session.get(f"{site.url}/alerts").text)
    assert token is not None
    session.post(f"{site.url}/logout", data={"csrf": token.group(1)})
    assert session.get(f"{site.url}/alerts", allow_redirects=False).status_code == 303


def test_trace_alerts_published_and_static_files(site: Site) -> None:
    session = site.signed_in()
    traced = session.get(f"{site.url}/trace", params={"message_id": "broken@fabrikam.com"}).text
    assert "<broken@fabrikam.com>" in traced or "&lt;broken@fabrikam.com&gt;" in traced
    assert "mailbox_stopped_incoming" in session.get(f"{site.url}/alerts").text
    assert "Nothing published yet." in session.get(f"{site.url}/published").text
    for name in ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "charts.js", "console.css"):
        assert requests.get(f"{site.url}/static/{name}").status_code == 200, name
    for name in ("%2e%2e%2fapp.py", "..%2fapp.py", "nope.js", ".hidden.js", "VENDORED.md"):
        assert requests.get(f"{site.url}/static/{name}", allow_redirects=False).status_code == 404, name


def test_the_chart_series_counts_per_minute(site: Site) -> None:
    site.history.sample()
    site.metrics.delivered(ALICE, 3)
    site.metrics.sent(BOB)
    site.metrics.incoming_latency(4.0)
    site.metrics.incoming_latency(6.0)
    site.history.sample()
    site.clock.advance(60)
    site.metrics.quarantined(ALICE, "deliver")
    site.history.sample()
    series = site.signed_in().get(f"{site.url}/api/series").json()
    assert series["delivered"] == [3.0, 0.0] and series["sent"] == [1.0, 0.0]
    assert series["quarantined"] == [0.0, 1.0] and series["latency"] == [5.0, None]
    assert series["t"][1] - series["t"][0] == 60


def test_kept_headers_are_decoded_and_broken_ones_shown_raw() -> None:
    mime = (b"Subject: =?utf-8?q?caf=C3=A9?=\r\nTo: ;;;<<<@@@\r\nX-Folded: one\r\n two\r\n\r\nbody")
    assert message_headers(mime) == [("Subject", "café"), ("To", ";;;<<<@@@"), ("X-Folded", "one two")]
    assert message_headers(None) == []
