"""Mail from Exchange Online into the CRM over Microsoft Graph: the same lane, ledger, screening and
acknowledgement as over EWS, through the simulator's Graph face (/v1.0/) over HTTPS."""

from __future__ import annotations

import logging

import pytest

from tests.flows.incoming.rig import ALICE, CAROL, LOGBOOK, Rig, binding
from tests.flows.incoming.test_delivery import delivered_one

pytestmark = pytest.mark.flow


def test_a_message_is_delivered_recorded_and_acknowledged_over_graph(rig: Rig) -> None:
    delivered_one(rig, graph=True)
    with rig.store() as store:
        state = store.sync.get_state(ALICE, "Inbox")
    assert state is not None and state.startswith(rig.sim.graph_url) and "delta" in state, \
        "the saved sync state is the delta link"


def test_the_next_runs_poll_by_delta_and_take_only_new_mail(rig: Rig) -> None:
    rig.publish(graph=True)
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="first", message_id="<g1@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    # Our own category change comes back in the delta; the ledger recognises it: nothing new.
    assert rig.drain(ALICE).processed == 0
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="second", message_id="<g2@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    assert len(rig.activities("<g1@fabrikam.com>")) == 1 and len(rig.activities("<g2@fabrikam.com>")) == 1
    assert sorted(m.subject for m in rig.sim.control.messages(ALICE)) == ["first", "second"]


def test_a_delta_link_the_server_refuses_is_reset_and_the_ledger_keeps_it_exactly_once(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.publish(graph=True)
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="once", message_id="<once@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    with rig.store() as store:
        state = store.sync.get_state(ALICE, "Inbox")
        assert state is not None and "deltatoken=" in state
        store.sync.save_state(ALICE, "Inbox", state.replace("deltatoken=", "deltatoken=expired"))
    with caplog.at_level(logging.WARNING, logger="router.pipeline.incoming.sync"):
        rig.drain(ALICE)
    assert "refused the saved sync state" in caplog.text
    assert len(rig.activities("<once@fabrikam.com>")) == 1
    with rig.store() as store:
        fresh = store.sync.get_state(ALICE, "Inbox")
    assert fresh is not None and "expired" not in fresh


def test_a_shared_logging_mailbox_moves_what_it_logged_over_graph(rig: Rig) -> None:
    rig.publish(binding("queues", LOGBOOK, '[queues.shared_logging]\nstorage_folder = "Inbox/Logged"'),
                graph=True)
    rig.sim.control.inject(LOGBOOK, from_=CAROL, to=[ALICE], subject="log me",
                           message_id="<log@fabrikam.com>")
    assert rig.drain(LOGBOOK).processed == 1
    assert rig.sim.control.messages(LOGBOOK) == []
    [moved] = rig.sim.control.messages(LOGBOOK, "Inbox/Logged")
    assert moved.subject == "log me"
    assert len(rig.activities("<log@fabrikam.com>")) == 1


def test_a_message_the_delta_reports_again_after_our_acknowledgement_is_not_fetched_again(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.publish(graph=True)
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="acked", message_id="<acked@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    fetched = _mime_fetches(rig)
    assert fetched == 1
    # The acknowledgement (a PATCH of the categories) changed the message: the next delta reports it.
    with caplog.at_level(logging.DEBUG, logger="router.pipeline.incoming.sync"):
        assert rig.drain(ALICE).processed == 0
    assert "1 changed messages the ledger has finished are not fetched again" in caplog.text
    assert _mime_fetches(rig) == fetched
    # A new message beside it is fetched as usual.
    rig.sim.control.inject(ALICE, from_=CAROL, to=[ALICE], subject="new", message_id="<new@fabrikam.com>")
    assert rig.drain(ALICE).processed == 1
    assert _mime_fetches(rig) == fetched + 1
    assert len(rig.activities("<acked@fabrikam.com>")) == 1 and len(rig.activities("<new@fabrikam.com>")) == 1


def _mime_fetches(rig: Rig) -> int:
    """MIME downloads (``/messages/{id}/$value``, in a $batch or not) of ALICE's messages so far."""
    return sum(1 for r in rig.sim.control.graph_requests()
               if r.operation == "graph.value" and r.mailbox == ALICE)
