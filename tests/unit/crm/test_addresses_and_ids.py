"""Address lists on the wire, and the Message-ID the CRM keys on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.crm.addresses import from_wire, header_addresses, is_valid_address, to_wire
from router.crm.message_ids import MESSAGE_ID_MAX, is_derived
from router.crm.messages import incoming_message
from tests.support.crm import CLOCK_START, incoming_email


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Carol Clark <carol@fabrikam.com>", ["carol@fabrikam.com"]),
        ('"Clark, Carol" <carol@fabrikam.com>, dave@litware.com', ["carol@fabrikam.com", "dave@litware.com"]),
        ("a@x.org; b@y.org", ["a@x.org", "b@y.org"]),
        ("team: a@x.org, b@y.org;", ["a@x.org", "b@y.org"]),
        ("undisclosed-recipients:;", []),
        ("broken@", ["broken@"]),
        ("   ", []),
    ],
)
def test_header_values_become_bare_addresses(header: str, expected: list[str]) -> None:
    assert header_addresses([header]) == expected


def test_the_wire_format_round_trips() -> None:
    wire = to_wire(["Carol <carol@fabrikam.com>", "dave@litware.com"])
    assert wire == "carol@fabrikam.com; dave@litware.com"
    assert from_wire(wire) == ["carol@fabrikam.com", "dave@litware.com"] and from_wire("") == []


@pytest.mark.parametrize("address", ["", "a", "a@b", "a b@c.org", "a@b.c.", "<a@b.org>", "a@@b.org"])
def test_invalid_addresses(address: str) -> None:
    assert not is_valid_address(address)


def test_the_receiving_mailbox_joins_bcc_only_when_no_header_names_it() -> None:
    assert incoming_message(incoming_email(receiving_address="alice@contoso.com")).bcc == ""
    hidden = incoming_message(incoming_email(to=("list@contoso.com",), receiving_address="Bert@Contoso.com"))
    assert hidden.bcc == "Bert@Contoso.com"


def test_the_derived_message_id_is_stable_and_ignores_what_differs_between_copies() -> None:
    base = incoming_email(message_id="")
    copy = incoming_email(
        message_id="",
        bcc=("x@contoso.com",),
        receiving_address="bert@contoso.com",
        received_on=CLOCK_START + timedelta(minutes=3),
        sent_on=None,
    )
    assert is_derived(base.crm_message_id)
    assert base.crm_message_id != copy.crm_message_id  # without a Date, the received time is all there is
    dated = incoming_email(message_id="", sent_on=CLOCK_START)
    dated_copy = incoming_email(
        message_id="",
        sent_on=CLOCK_START,
        received_on=CLOCK_START + timedelta(minutes=3),
        bcc=("x@contoso.com",),
        receiving_address="bert@contoso.com",
    )
    assert dated.crm_message_id == dated_copy.crm_message_id
    assert (
        dated.crm_message_id
        != incoming_email(message_id="", sent_on=CLOCK_START, body="other").crm_message_id
    )


def test_an_overlong_message_id_is_replaced_by_its_digest() -> None:
    long_id = "<" + "x" * 400 + "@example.org>"
    derived = incoming_email(message_id=long_id).crm_message_id
    assert len(derived) <= MESSAGE_ID_MAX and is_derived(derived)
    assert derived == incoming_email(message_id=long_id, subject="other").crm_message_id
    assert incoming_email(message_id=" <a@b.org> ").crm_message_id == "<a@b.org>"
