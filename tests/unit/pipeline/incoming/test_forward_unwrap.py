"""Forward mailbox unwrapping: the original, who forwarded it, and clear decisions otherwise."""

from __future__ import annotations

from router.pipeline.incoming import (
    CandidateSource,
    ScreeningPolicy,
    UnwrapOutcome,
    parse_message,
    resolve_forwarder,
    screen,
    unwrap_forward,
)
from tests.unit.pipeline.incoming.builders import corpus, mime


def test_rule_forwarded_message_is_unwrapped_with_its_forwarder() -> None:
    result = unwrap_forward(parse_message(corpus("forward-wrapper.eml")))
    assert result.unwrapped and result.outcome is UnwrapOutcome.UNWRAPPED
    assert result.original is not None and result.original_bytes is not None
    assert result.original.key.value == "<CAF123.alice@mail.fabrikam.example>"
    assert result.original.subject == "Order 4711"
    assert result.original.body_text == "Please ship order 4711."
    assert result.rule_generated
    first = result.candidates[0]
    assert (first.address, first.name, first.source) == ("dana@contoso.example", "Dana User",
                                                        CandidateSource.WRAPPER_FROM)
    # The rules-loop address is the same user, so it is not listed twice.
    assert [c.address for c in result.candidates].count("dana@contoso.example") == 1
    assert "dana@contoso.example" in result.text


def test_unwrapped_bytes_are_the_original_and_stable() -> None:
    wrapper = corpus("forward-wrapper.eml")
    first = unwrap_forward(parse_message(wrapper))
    second = unwrap_forward(parse_message(wrapper))
    assert first.original_bytes == second.original_bytes
    assert first.original_bytes is not None and first.original_bytes.startswith(
        b"From: Alice Customer <alice@fabrikam.example>\r\nTo: Dana User <dana@contoso.example>\r\n")
    assert first.original is not None
    assert parse_message(first.original_bytes).key == first.original.key


def test_base64_encoded_attached_message_is_decoded_and_the_rules_loop_names_the_user() -> None:
    result = unwrap_forward(parse_message(corpus("forward-base64-inner.eml")))
    assert result.unwrapped and result.original is not None
    assert result.original.key.value == "<CAF123.alice@mail.fabrikam.example>"
    # The wrapper's From is unusable (<>), so the Inbox-Rules-Loop address comes first.
    assert result.candidates[0].address == "dana@contoso.example"
    assert result.candidates[0].source is CandidateSource.INBOX_RULES_LOOP


def test_original_recipients_are_the_last_resort() -> None:
    inner = ("From: alice@fabrikam.example\r\nTo: Dana <DANA@contoso.example>, bob@contoso.example\r\n"
             "Cc: carol@contoso.example\r\nMessage-ID: <r@f.example>\r\n\r\nhi\r\n")
    wrapper = mime("From: Dana <dana@contoso.example>", "Sender: assistant@contoso.example",
                   "Content-Type: multipart/mixed; boundary=w",
                   body=f"--w\r\nContent-Type: message/rfc822\r\n\r\n{inner}--w--")
    result = unwrap_forward(parse_message(wrapper))
    assert [(c.address, c.source) for c in result.candidates] == [
        ("dana@contoso.example", CandidateSource.WRAPPER_FROM),
        ("assistant@contoso.example", CandidateSource.WRAPPER_SENDER),
        ("bob@contoso.example", CandidateSource.ORIGINAL_RECIPIENT),
        ("carol@contoso.example", CandidateSource.ORIGINAL_RECIPIENT),
    ]


def test_resolve_forwarder_picks_the_first_known_forward_user() -> None:
    result = unwrap_forward(parse_message(corpus("forward-wrapper.eml")))
    users = {"dana@contoso.example"}
    chosen = resolve_forwarder(result, users.__contains__)
    assert chosen is not None and chosen.address == "dana@contoso.example"
    assert resolve_forwarder(result, lambda address: False) is None


def test_wrapper_without_an_attached_message_is_a_decision() -> None:
    result = unwrap_forward(parse_message(corpus("forward-none.eml")))
    assert result.outcome is UnwrapOutcome.NOT_FORWARDED and not result.unwrapped
    assert result.original is None and "no attached message" in result.text


def test_wrapper_with_two_attached_messages_is_a_decision() -> None:
    result = unwrap_forward(parse_message(corpus("forward-two.eml")))
    assert result.outcome is UnwrapOutcome.SEVERAL and "2 attached messages" in result.text


def test_empty_attached_message_is_unreadable() -> None:
    result = unwrap_forward(parse_message(corpus("forward-empty-inner.eml")))
    assert result.outcome is UnwrapOutcome.UNREADABLE and "empty" in result.text


def test_no_forwarder_anywhere_is_a_decision() -> None:
    inner = "From: alice@fabrikam.example\r\nMessage-ID: <o@fabrikam.example>\r\n\r\nhi\r\n"
    wrapper = mime("From: <>", "Content-Type: multipart/mixed; boundary=w",
                   body=f"--w\r\nContent-Type: message/rfc822\r\n\r\n{inner}--w--")
    result = unwrap_forward(parse_message(wrapper))
    assert result.outcome is UnwrapOutcome.NO_FORWARDER
    assert result.original is not None  # the original was readable; only attribution failed


def test_hand_forwarded_wrapper_is_unwrapped_but_not_marked_rule_generated() -> None:
    inner = ("From: alice@fabrikam.example\r\nTo: dana@contoso.example\r\n"
             "Message-ID: <h@f.example>\r\n\r\nhi\r\n")
    wrapper = mime("From: dana@contoso.example", "Content-Type: multipart/mixed; boundary=w",
                   body=f"--w\r\nContent-Type: text/plain\r\n\r\nfyi\r\n--w\r\n"
                        f"Content-Type: message/rfc822\r\n\r\n{inner}--w--")
    result = unwrap_forward(parse_message(wrapper))
    assert result.unwrapped and not result.rule_generated


def test_screening_applies_to_the_unwrapped_original() -> None:
    policy = ScreeningPolicy(loop_identity="contoso-crm")
    wrapper = parse_message(corpus("forward-wrapper.eml"))
    result = unwrap_forward(wrapper)
    assert result.original is not None
    assert screen(result.original, "IPM.Note", policy).delivers
