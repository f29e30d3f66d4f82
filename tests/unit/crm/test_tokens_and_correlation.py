"""Tracking tokens, subject normalisation, conversation indexes and organisation settings."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.correlation import canonical_conversation_index, normalize_subject
from router.crm.embedded.tracking import find_tokens, format_token, strip_tokens, with_token
from router.errors import CrmPermanentError


def test_token_format_and_wrap(embedded_crm: EmbeddedCrm) -> None:
    org = embedded_crm.organization()
    assert format_token(org, 1, 1) == "CRM:0001001"
    assert format_token(org, 1, 1000) == "CRM:0001000"  # the counter wraps 999 -> 000
    assert format_token(replace(org, token_base=12, user_digits=1), 23, 5) == "CRM:123005"


def test_the_counter_wraps_per_user(embedded_crm: EmbeddedCrm) -> None:
    embedded_crm.add_user("Svc", "svc@contoso.com", "CONTOSO\\svc")
    embedded_crm.update_organization(maximumtrackingnumber=1)
    tokens = [embedded_crm.get_tracking_token_email("CONTOSO\\svc") for _ in range(11)]
    assert tokens[:2] == ["CRM:00011", "CRM:00012"] and tokens[8:11] == [
        "CRM:00019",
        "CRM:00010",
        "CRM:00011",
    ]


def test_old_prefixes_keep_matching(embedded_crm: EmbeddedCrm) -> None:
    embedded_crm.update_organization(trackingprefix="TKT:")
    org = embedded_crm.update_organization(trackingprefix="REF#")
    assert org.all_prefixes == ("REF#", "TKT:", "CRM:")
    assert find_tokens(org, "RE: a CRM:0001001 b tkt:0002002 REF#0003003") == [
        "REF#0003003",
        "tkt:0002002",
        "CRM:0001001",
    ]
    assert " ".join(strip_tokens(org, "Order CRM:0001001 now").split()) == "Order now"


def test_a_token_is_appended_once() -> None:
    assert with_token("Quote ", "CRM:0001001") == "Quote CRM:0001001"
    assert with_token("Quote CRM:0001001", "CRM:0001001") == "Quote CRM:0001001"
    assert with_token("", "CRM:0001001") == "CRM:0001001"


@pytest.mark.parametrize(
    "changes",
    [
        {"trackingprefix": ""},
        {"trackingprefix": "x" * 21},
        {"trackingtokeniddigits": 0},
        {"maximumtrackingnumber": 10},
        {"trackingtokenidbase": -1},
        {"maxuploadfilesize": 0},
        {"nosuchsetting": 1},
    ],
)
def test_bad_organisation_settings_are_refused(embedded_crm: EmbeddedCrm, changes: dict[str, object]) -> None:
    with pytest.raises(CrmPermanentError) as caught:
        embedded_crm.update_organization(**changes)
    assert caught.value.hint


def test_subjects_are_compared_without_prefixes_tokens_case_or_spacing(embedded_crm: EmbeddedCrm) -> None:
    org = embedded_crm.organization()
    assert normalize_subject(org, "RE: Fw:  AW:SV: Quote   42 CRM:0001001") == "quote 42"
    assert normalize_subject(org, "Re[2]: Quote 42") == "quote 42"
    assert normalize_subject(org, "Regarding the quote") == "regarding the quote"


def test_conversation_indexes_are_read_as_base64_or_hex() -> None:
    raw = bytes(range(27))
    assert canonical_conversation_index(base64.b64encode(raw).decode()) == raw.hex().upper()
    assert canonical_conversation_index(raw.hex()) == raw.hex().upper()
    assert canonical_conversation_index("AQID") is None  # shorter than the 22-byte header
    assert canonical_conversation_index("not base64!") is None and canonical_conversation_index(None) is None
