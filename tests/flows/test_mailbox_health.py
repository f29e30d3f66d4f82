"""Mailbox health with the real service against the EWS simulator and the embedded CRM.

A wrong password stops the mailbox with Failure, an alert and the CRM's mailbox error; the fix, published,
brings the "recovered" notice. A stop outlives a restart until a new version or `mailbox resume`.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from router.cli.main import cli
from router.crm.facade import CrmFacade
from router.errors import MailboxStoppedError
from router.runtime.lane import LaneKey
from router.runtime.outcome import RunKind
from router.service.mailbox_health import stop_alert_kind
from router.state import AlertStatus, HealthStatus, Notice
from router.state import Direction as StateDirection
from tests.flows.kit import IN, SETTINGS, Contoso, running
from tests.support.ews_simulator import ALICE, BOB, PASSWORD, QUEUE, SVC
from tests.unit.service.lanes_kit import Recorder

pytestmark = pytest.mark.flow
ALICE_IN, BOB_IN, QUEUE_IN = LaneKey(ALICE, IN), LaneKey(BOB, IN), LaneKey(QUEUE, IN)
STATE_IN = StateDirection.INCOMING


def wait_stopped(recorder: Recorder, count: int) -> list[tuple[LaneKey, BaseException]]:
    recorder.wait_for(lambda: len(recorder.stopped) >= count)
    return list(recorder.stopped)


def status_series(text: str, mailbox: str, state: str) -> float:
    prefix = (f'email_router_mailbox_status{{direction="incoming",email_router_mailbox_status="{state}",'
              f'mailbox="{mailbox}"}} ')
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.removeprefix(prefix))


def test_a_wrong_password_stops_the_mailbox_and_the_published_fix_recovers_it(contoso: Contoso) -> None:
    contoso.set_password("not-the-password")
    contoso.publish(default_outgoing=None)
    recorder = Recorder()
    with running(contoso, IN, recorder=recorder) as service:
        wait_stopped(recorder, 3)
        with contoso.store() as store:
            health = store.health.get(ALICE, STATE_IN)
            (alert,) = [a for a in store.alerts.open_alerts() if a.mailbox == ALICE]
        assert (health.status, health.stopped, health.consecutive_failures) == (HealthStatus.FAILURE, True, 1)
        assert health.last_error is not None and "Invalid credentials" in health.last_error
        assert alert.kind == stop_alert_kind(IN)
        assert "incoming mail of alice@contoso.com stopped" in alert.text
        assert "check the user name and password" in alert.text
        row = contoso.mailbox(ALICE)
        assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (2, False)
        assert "Invalid credentials" in str(row["lastsyncerror"]) and row["lastsyncerrorcount"] == 1
        metrics = service.metrics.exposition().decode()
        assert status_series(metrics, ALICE, "failure") == 1.0
        probe = service.health()
        assert probe.ok and probe.degraded and "3 open alert(s)" in probe.detail

        contoso.clock.advance(60)
        contoso.set_password(PASSWORD)
        contoso.publish(default_outgoing=None)
        service.reload_now()
        for lane in (ALICE_IN, BOB_IN, QUEUE_IN):
            assert recorder.wait_runs(2, lane)[-1].kind is RunKind.IDLE
        assert service.health().degraded is False

    with contoso.store() as store:
        health = store.health.get(ALICE, STATE_IN)
        resolved = store.alerts.get(alert.id)
        notices = [(n.notice, n.alert.mailbox) for n in store.alerts.pending_notices()]
    assert (health.status, health.stopped, health.consecutive_failures) == (HealthStatus.SUCCESS, False, 0)
    assert resolved is not None
    assert (resolved.status, resolved.resolution) == (AlertStatus.RESOLVED, "recovered")
    assert (Notice.RECOVERED, ALICE) in notices and (Notice.RAISED, ALICE) in notices
    row = contoso.mailbox(ALICE)
    assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (1, True)
    assert (row["lastsyncerror"], row["lastsyncerrorcount"]) == (None, 0)


def test_a_stop_outlives_a_restart_until_an_admin_resumes_the_mailbox(contoso: Contoso) -> None:
    contoso.sim.control.revoke("impersonation", ALICE, SVC)
    contoso.publish(default_outgoing=None)
    first = Recorder()
    with running(contoso, IN, recorder=first):
        wait_stopped(first, 3)
    with contoso.store() as store:
        (alert,) = [a for a in store.alerts.open_alerts() if a.mailbox == ALICE]
    assert alert.occurrences == 1 and "ApplicationImpersonation" in alert.text
    table = CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["--home", str(contoso.home.root), "status"])
    assert table.exit_code == 0, table.output
    assert "Failure (stopped), 1 failure(s) in a row" in table.stdout
    assert "Open alerts (3)" in table.stdout and "mailbox_stopped_incoming" in table.stdout

    second = Recorder()
    with running(contoso, IN, recorder=second) as service:
        held = dict(wait_stopped(second, 3))
        assert isinstance(held[ALICE_IN], MailboxStoppedError)
        assert "is stopped since" in held[ALICE_IN].message
        assert "email-router mailbox resume" in held[ALICE_IN].hint
        with contoso.store() as store:
            assert store.alerts.get(alert.id).occurrences == 1  # type: ignore[union-attr]
        contoso.sim.control.grant("impersonation", ALICE, SVC)
        result = CliRunner().invoke(cli, ["--home", str(contoso.home.root), "mailbox", "resume", ALICE])
        assert result.exit_code == 0, result.output
        assert "alice@contoso.com: incoming resumed" in result.output
        assert set(service.resume_released()) <= {ALICE_IN}
        reports = second.wait_runs(2, ALICE_IN)
        assert reports[-1].kind is RunKind.IDLE
    with contoso.store() as store:
        assert store.alerts.get(alert.id).status is AlertStatus.RESOLVED  # type: ignore[union-attr]
        assert store.health.get(ALICE, STATE_IN).status is HealthStatus.SUCCESS


def test_load_data_and_mailbox_status_go_through_the_dynamics_adapter(contoso: Contoso,
                                                                      facade: CrmFacade) -> None:
    contoso.through_dynamics(facade)
    contoso.sim.control.revoke("impersonation", ALICE, SVC)
    contoso.publish(default_outgoing=None)
    recorder = Recorder()
    with running(contoso, IN, recorder=recorder) as service:
        wait_stopped(recorder, 3)
        assert {lane.key.mailbox for lane in service.lanes()} == {ALICE, BOB, QUEUE}, "Load Data over HTTP"
        assert service.ready().ok
        row = contoso.mailbox(BOB)
        assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (2, False)
        assert "ErrorImpersonateUserDenied" in str(row["lastsyncerror"])

        contoso.sim.control.grant("impersonation", ALICE, SVC)
        contoso.clock.advance(60)
        contoso.publish(default_outgoing=None, settings=SETTINGS + "cache_capacity = 7\n")
        service.reload_now()
        assert recorder.wait_runs(2, BOB_IN)[-1].kind is RunKind.IDLE  # The monitor hears of it first.
    row = contoso.mailbox(BOB)
    assert (row["incomingemailstatus"], row["enabledforincomingemail"]) == (1, True)
    assert (row["lastsyncerror"], row["lastsyncerrorcount"]) == (None, 0)
