"""The redacting log filter scrubs known secrets and secret-looking patterns from every record."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from router.vault.redact import MASK, SecretRedactor

CANARY = "canary-Redact-91b2"


def test_known_secret_and_patterns_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    redactor = SecretRedactor([SecretStr(CANARY)])
    caplog.handler.addFilter(redactor)
    log = logging.getLogger("router.test.redact")
    with caplog.at_level(logging.DEBUG):
        log.debug("login with %s for %s", CANARY, "alice")
        log.info("headers {'Authorization': 'Basic dXNlcjpwYXNz'} sent")
        log.info("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
        log.info("form password=hunter2&client_secret=abcdef")
    text = caplog.text
    assert CANARY not in text and "dXNlcjpwYXNz" not in text and "eyJhbGciOiJIUzI1NiJ9" not in text
    assert "hunter2" not in text and "abcdef" not in text
    assert "for alice" in text and MASK in text


def test_exception_text_is_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    redactor = SecretRedactor()
    redactor.add(CANARY)
    caplog.handler.addFilter(redactor)
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError(f"server rejected {CANARY}")
        except RuntimeError:
            logging.getLogger("router.test.redact").exception("failed")
    assert "RuntimeError" in caplog.text and CANARY not in caplog.text


def test_install_covers_records_from_child_loggers() -> None:
    root = logging.getLogger("router.test.install")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    uninstall = SecretRedactor([CANARY]).install(root)
    try:
        logging.getLogger("router.test.install.child").warning("token %s", CANARY)
    finally:
        uninstall()
        root.removeHandler(handler)
    assert records == [f"token {MASK}"]


def test_short_values_are_not_scrubbed_by_value() -> None:
    redactor = SecretRedactor(["ab"])
    assert redactor.scrub("tab stop") == "tab stop"
    assert redactor.scrub("pwd=ab") == f"pwd={MASK}"
