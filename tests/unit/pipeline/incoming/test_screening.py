"""Screening: each rule skips what it should, lets ordinary mail through, and says why."""

from __future__ import annotations

import pytest

from router.clock import FrozenClock
from router.errors import ConfigError
from router.pipeline.incoming import (
    ITEM_CLASS_OUT_OF_OFFICE,
    LOOP_HEADER,
    RateBreaker,
    RateLimit,
    ScreenDecision,
    ScreeningPolicy,
    SkipReason,
    Verdict,
    loop_header_value,
    parse_message,
    screen,
)
from tests.unit.pipeline.incoming.builders import corpus, mime


def decide(policy: ScreeningPolicy, *headers: str, item_class: str = "IPM.Note",
           body: str = "Hello.") -> ScreenDecision:
    return screen(parse_message(mime(*headers, body=body)), item_class, policy)


def test_ordinary_mail_is_delivered(policy: ScreeningPolicy) -> None:
    decision = decide(policy)
    assert decision.delivers and decision.verdict is Verdict.DELIVER
    assert decision.reason is None and decision.code == "accepted"


@pytest.mark.parametrize("item_class", ["IPM.Note", "ipm.note", " IPM.NOTE ", ITEM_CLASS_OUT_OF_OFFICE])
def test_tracked_item_classes_pass(policy: ScreeningPolicy, item_class: str) -> None:
    assert decide(policy, item_class=item_class).delivers


@pytest.mark.parametrize("item_class", ["IPM.Schedule.Meeting.Request", "REPORT.IPM.Note.NDR",
                                        "IPM.Note.SMIME", "IPM.Task", ""])
def test_other_item_classes_are_skipped(policy: ScreeningPolicy, item_class: str) -> None:
    decision = decide(policy, item_class=item_class)
    assert decision.reason is SkipReason.ITEM_CLASS
    assert (item_class or "(none)") in decision.text


def test_extra_item_classes_can_be_allowed() -> None:
    policy = ScreeningPolicy(loop_identity="contoso-crm",
                             item_classes=frozenset({"IPM.Note", "IPM.Note.SMIME.MultipartSigned"}))
    assert decide(policy, item_class="ipm.note.smime.multipartsigned").delivers
    assert decide(policy, item_class=ITEM_CLASS_OUT_OF_OFFICE).reason is SkipReason.ITEM_CLASS


def test_own_loop_header_is_skipped(policy: ScreeningPolicy) -> None:
    decision = decide(policy, f"{LOOP_HEADER}: {loop_header_value('contoso-crm')}")
    assert decision.reason is SkipReason.OWN_LOOP and decision.code == "own-loop"
    assert "contoso-crm" in decision.text


def test_own_loop_matches_case_insensitively_among_several_stamps(policy: ScreeningPolicy) -> None:
    decision = decide(policy, f"{LOOP_HEADER}: fabrikam-crm", f"{LOOP_HEADER.lower()}: CONTOSO-CRM")
    assert decision.reason is SkipReason.OWN_LOOP


def test_another_deployments_loop_header_is_not_our_loop(policy: ScreeningPolicy) -> None:
    assert decide(policy, f"{LOOP_HEADER}: fabrikam-crm").delivers


@pytest.mark.parametrize("identity", ["", "has space", "-leading", "x" * 65, "evil\r\nBcc: a@b"])
def test_unusable_loop_identity_is_a_config_error(identity: str) -> None:
    with pytest.raises(ConfigError, match="loop identity") as caught:
        ScreeningPolicy(loop_identity=identity)
    assert "letters, digits" in caught.value.hint


@pytest.mark.parametrize(("value", "reason"), [
    ("auto-replied", SkipReason.AUTO_SUBMITTED),
    ("auto-generated", SkipReason.AUTO_SUBMITTED),
    ("auto-notified; owner-email=x@y", SkipReason.AUTO_SUBMITTED),
    ("something-new", SkipReason.AUTO_SUBMITTED),
    ("No", None),
    ("no", None),
    ("", None),
])
def test_auto_submitted_anything_but_no_is_skipped(policy: ScreeningPolicy, value: str,
                                                   reason: SkipReason | None) -> None:
    assert decide(policy, f"Auto-Submitted: {value}").reason is reason


@pytest.mark.parametrize(("value", "automated"), [
    ("All", True), ("-1", True), ("OOF", True), ("AutoReply", True), ("DR, OOF, AutoReply", True),
    ("RN, NRN", False), ("DR", False), ("NDR", False), ("None", False), ("", False),
])
def test_auto_response_suppress_all_oof_or_autoreply_means_automated(
        policy: ScreeningPolicy, value: str, automated: bool) -> None:
    decision = decide(policy, f"X-Auto-Response-Suppress: {value}")
    assert (decision.reason is SkipReason.AUTO_RESPONSE_SUPPRESS) is automated
    assert decision.delivers is not automated


@pytest.mark.parametrize(("value", "skipped"), [
    ("bulk", True), ("Junk", True), ("list", True), ("auto_reply", True), ("first-class", False),
])
def test_precedence_screens_when_the_setting_says_so(value: str, skipped: bool) -> None:
    policy = ScreeningPolicy("contoso", precedence_screens=True)
    assert (decide(policy, f"Precedence: {value}").reason is SkipReason.PRECEDENCE) is skipped


@pytest.mark.parametrize("value", ["bulk", "Junk", "list"])
def test_precedence_alone_is_a_hint_by_default_and_the_decision_says_so(policy: ScreeningPolicy,
                                                                         value: str) -> None:
    decision = decide(policy, f"Precedence: {value}")
    assert decision.delivers
    assert f"Precedence: {value.lower()} is only a hint (RFC 3834)" in decision.text
    assert decide(policy, f"Precedence: {value}", "Auto-Submitted: auto-replied").reason \
        is SkipReason.AUTO_SUBMITTED


def test_auto_reply_precedence_screens_either_way(policy: ScreeningPolicy) -> None:
    assert decide(policy, "Precedence: auto_reply").reason is SkipReason.PRECEDENCE


@pytest.mark.parametrize("header", ["X-Autoreply: yes", "X-Autorespond: vacation", "X-AutoReply-From: a@b.c",
                                    "X-Mail-Autoreply: 1", "X-Autogenerated: Reply", "X-Auto-Reply: on"])
def test_autoreply_header_family(policy: ScreeningPolicy, header: str) -> None:
    decision = decide(policy, header)
    assert decision.reason is SkipReason.AUTOREPLY_HEADER
    assert header.split(":")[0] in decision.text


def test_autoreply_header_saying_no_is_not_evidence(policy: ScreeningPolicy) -> None:
    assert decide(policy, "X-Autoreply: no").delivers


@pytest.mark.parametrize(("value", "skipped"), [("<>", True), ("< >", True), ("<<>>", True),
                                                ("<bounce@fabrikam.example>", False)])
def test_null_return_path(policy: ScreeningPolicy, value: str, skipped: bool) -> None:
    assert (decide(policy, f"Return-Path: {value}").reason is SkipReason.NULL_RETURN_PATH) is skipped


@pytest.mark.parametrize(("report_type", "reason"), [
    ("delivery-status", SkipReason.DELIVERY_REPORT),
    ("disposition-notification", SkipReason.DISPOSITION_NOTIFICATION),
    ("feedback-report", SkipReason.OTHER_REPORT),
])
def test_multipart_reports(policy: ScreeningPolicy, report_type: str, reason: SkipReason) -> None:
    decision = decide(policy, f"Content-Type: multipart/report; report-type={report_type}; boundary=r",
                      body="--r\r\nContent-Type: text/plain\r\n\r\nreport\r\n--r--")
    assert decision.reason is reason


def test_bare_delivery_status_is_a_report(policy: ScreeningPolicy) -> None:
    decision = decide(policy, "Content-Type: message/delivery-status",
                      body="Reporting-MTA: dns; mx\r\n\r\nAction: failed")
    assert decision.reason is SkipReason.DELIVERY_REPORT


def test_rules_apply_in_order_so_the_most_certain_reason_is_recorded(policy: ScreeningPolicy) -> None:
    decision = screen(parse_message(corpus("dsn-bounce.eml")), "IPM.Note", policy)
    # The bounce also has Return-Path <> and Auto-Submitted, but being a report is the most specific.
    assert decision.reason is SkipReason.DELIVERY_REPORT
    looped = decide(policy, "Auto-Submitted: auto-replied", f"{LOOP_HEADER}: contoso-crm")
    assert looped.reason is SkipReason.OWN_LOOP


def test_out_of_office_items_are_auto_replies_unless_the_policy_delivers_them(
        policy: ScreeningPolicy) -> None:
    oof = parse_message(corpus("exchange-oof.eml"))
    assert screen(oof, ITEM_CLASS_OUT_OF_OFFICE, policy).reason is SkipReason.AUTO_SUBMITTED
    lenient = ScreeningPolicy(loop_identity="contoso-crm", deliver_out_of_office=True)
    assert screen(oof, ITEM_CLASS_OUT_OF_OFFICE, lenient).delivers
    # The exemption is for the out-of-office class only, and never for loops.
    assert screen(oof, "IPM.Note", lenient).reason is SkipReason.AUTO_SUBMITTED
    looped = parse_message(mime("Auto-Submitted: auto-replied", f"{LOOP_HEADER}: contoso-crm"))
    assert screen(looped, ITEM_CLASS_OUT_OF_OFFICE, lenient).reason is SkipReason.OWN_LOOP


def test_breaker_is_consulted_only_for_mail_that_passed_the_rules(policy: ScreeningPolicy,
                                                                  clock: FrozenClock) -> None:
    breaker = RateBreaker(clock, RateLimit(limit=2, window_seconds=60))
    ordinary = parse_message(mime())
    auto = parse_message(mime("Auto-Submitted: auto-replied"))
    for _ in range(3):
        assert screen(auto, "IPM.Note", policy, breaker=breaker, mailbox="sales@contoso.example").reason \
            is SkipReason.AUTO_SUBMITTED
    first, second, third = (screen(ordinary, "IPM.Note", policy, breaker=breaker,
                                   mailbox="sales@contoso.example") for _ in range(3))
    assert first.delivers and second.delivers
    assert third.reason is SkipReason.RATE_LIMITED
    assert "alice@fabrikam.example" in third.text and "sales@contoso.example" in third.text
