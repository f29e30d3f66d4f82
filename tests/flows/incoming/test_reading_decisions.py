"""The admin can read why (issue #15, case 6): screenings and quarantines logged at level 2, reason
texts that say what was seen, ``trace`` with whole ids and ``--json``, ``crm show`` with the text and
the attachments that landed."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.state import LedgerStage
from tests.flows.incoming.fates_kit import assert_counts_add_up, drain_counted, ledger_by_item
from tests.flows.incoming.rig import BERT, Rig, binding
from tests.unit.pipeline.incoming.builders import mime

pytestmark = pytest.mark.flow

LONG_ID = "<" + "a-rather-long-message-id-" * 4 + "@mail.fabrikam.com>"
REPORT = mime("Message-ID: <report@fabrikam.example>",
              'Content-Type: multipart/report; boundary="R"',
              body="--R\r\nContent-Type: text/plain\r\n\r\nsomething happened\r\n--R--")
NO_FROM = mime("To: bert@contoso.com", "Subject: who am I", "Message-ID: <no-from@fabrikam.example>",
               "Date: Tue, 02 Jan 2024 09:30:00 +0100", body="anonymous", replace=True)
BINARY = b"\x00\x01\x07 a stray binary file"


def invoke(*args: str, columns: int = 80) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_decisions_are_logged_and_their_reasons_say_what_was_seen(rig: Rig,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    rig.publish(binding("users", BERT))
    rig.sim.control.inject(BERT, mime("Message-ID: <oof@fabrikam.example>", "Auto-Submitted: auto-replied"))
    rig.sim.control.inject(BERT, REPORT)
    rig.sim.control.inject(BERT, NO_FROM)
    binary = rig.sim.control.inject(BERT, BINARY)
    with caplog.at_level(logging.INFO, logger="router.pipeline.incoming.decisions"):
        assert_counts_add_up(drain_counted(rig, BERT), BERT)
    logged = {(r.levelno, r.getMessage()) for r in caplog.records if r.name.endswith("decisions")}
    assert (logging.INFO, f"screened <oof@fabrikam.example> in {BERT} at stage screen: auto-submitted: "
                          "Auto-Submitted: auto-replied") in logged
    assert (logging.INFO, f"screened <report@fabrikam.example> in {BERT} at stage screen: report: a machine "
                          "report (multipart/report without a report-type parameter)") in logged
    assert (logging.INFO, f"screened <no-from@fabrikam.example> in {BERT} at stage deliver: invalid-sender: "
                          "CheckIncomingEmail declined it: invalid sender — the message has no From header") \
        in logged
    with rig.store() as store:
        no_from = [(d.stage, d.result, d.text)
                   for d in store.trail.for_message_id("<no-from@fabrikam.example>")]
        [entry] = ledger_by_item(store, BERT)[binary]
    assert ("screen", "accepted",
            "passed screening; the message has no From header, so the CRM will see no sender") in no_from
    assert entry.stage is LedgerStage.QUARANTINED
    [quarantined] = [m for level, m in logged if level == logging.WARNING]
    assert quarantined.startswith(f"quarantined {entry.message_key} in {BERT} at stage parse: unparseable:")
    assert "(it starts with '\\x00\\x01\\x07 a stray" in quarantined, "control characters show as escapes"
    code, output = invoke("trace", entry.message_key)
    assert code == 0 and "\\x00\\x01\\x07" in output


def test_trace_keeps_ids_whole_at_80_columns_and_has_json(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    rig.sim.control.inject(BERT, mime(f"Message-ID: {LONG_ID}", "From: Carol <carol@fabrikam.com>",
                                      "To: bert@contoso.com"))
    assert_counts_add_up(drain_counted(rig, BERT), BERT)
    [activity] = rig.activities(LONG_ID)
    code, output = invoke("trace", LONG_ID)
    assert code == 0
    assert LONG_ID in output and f"activity {activity}" in output, output
    code, output = invoke("trace", LONG_ID, "--json")
    document = json.loads(output)
    assert code == 0 and document["message_id"] == LONG_ID
    assert [e["activity_id"] for e in document["ledger"]] == [activity]
    assert [(d["stage"], d["result"]) for d in document["decisions"]][:2] == [("screen", "accepted"),
                                                                              ("deliver", "delivered")]


def test_crm_show_prints_the_description_and_the_attachments_with_sizes(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    body = ("--X\r\nContent-Type: text/html\r\n\r\n<p>First paragraph.</p><p>Second one.</p>\r\n"
            '--X\r\nContent-Type: text/plain; name="msg.txt"\r\nContent-Disposition: attachment; '
            'filename="msg.txt"\r\n\r\nfirst log\r\n--X--')
    rig.sim.control.inject(BERT, mime("Message-ID: <shown@fabrikam.example>", "From: carol@fabrikam.com",
                                      "To: bert@contoso.com", 'Content-Type: multipart/mixed; boundary="X"',
                                      body=body))
    assert_counts_add_up(drain_counted(rig, BERT), BERT)
    [activity] = rig.activities("<shown@fabrikam.example>")
    code, output = invoke("crm", "show", activity, columns=120)
    assert code == 0
    assert "  attachment:   msg.txt (text/plain, 9 bytes)" in output
    assert "  description:\n    First paragraph.\n    Second one." in output
