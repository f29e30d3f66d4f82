"""The direct writer of the common shape gives the very bytes ``EmailMessage`` gives, header for header.

``render`` writes an email with an HTML body and no attachment through ``mime_writer``; every other shape,
and this one when the writer is switched off, goes through ``EmailMessage``. Each case renders the same
message both ways and compares the MIME and the headers as written.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.pipeline.outgoing import mime_body, mime_writer
from router.pipeline.outgoing import render as render_module
from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.message import OutgoingMessage, ParentEmail, Priority
from router.pipeline.outgoing.message_id import new_message_id
from router.pipeline.outgoing.render import RenderedMessage, render
from router.pipeline.outgoing.thread_index import new_thread_index
from tests.unit.pipeline.outgoing.test_render import LONG_PARENT_ID, PARENT_INDEX, SENT, message

QUOTE = "<p>" + "Thank you for your order; the quote is below. " * 60 + "</p>"


def both_ways(msg: OutgoingMessage,
              monkeypatch: pytest.MonkeyPatch) -> tuple[RenderedMessage, RenderedMessage]:
    """``msg`` rendered by the direct writer, then by ``EmailMessage``."""
    direct = render(msg, loop_identity="contoso-crm")
    with monkeypatch.context() as patch:
        patch.setattr(render_module, "_write_directly", lambda *args: None)
        reference = render(msg, loop_identity="contoso-crm")
    return direct, reference


def assert_same(msg: OutgoingMessage, monkeypatch: pytest.MonkeyPatch) -> None:
    direct, reference = both_ways(msg, monkeypatch)
    assert direct.mime == reference.mime
    assert direct.headers == reference.headers
    assert direct.warnings == reference.warnings


FIXTURES = {
    "the render tests' email, without attachments": message(attachments=()),
    "the bench's quote": message(attachments=(), html_body=QUOTE, subject="Quote r0-7 CRM:0001234",
                                 to=[MailAddress("customer7@fabrikam.com", "Customer 7")], cc=(), bcc=()),
    "a reply with long parent ids": message(attachments=(), parent=ParentEmail(
        LONG_PARENT_ID, ("<first@fabrikam.test>", "<b@fabrikam.test>"), thread_index=PARENT_INDEX)),
    "high priority, many recipients": message(attachments=(), priority=Priority.HIGH, to=[
        MailAddress(f"person{n}@fabrikam.com", f"Person, Number {n}") for n in range(30)]),
    "long subject, non-ASCII everywhere": message(
        attachments=(), subject="Ünïcödé " * 40 + "\u4e2d\u6587 CRM:0001011", html_body="<p>" + "ä€𝄞 " * 400),
    "long unbroken lines": message(attachments=(), html_body="<pre>" + "x" * 5000 + "</pre>" + "y" * 3000),
    "text only in comments": message(attachments=(), html_body="<!-- nothing --><p> </p>"),
    "CR, LF and controls in the body": message(attachments=(), html_body="a\rb\nc\r\n\x00d\x1f<br>é\r"),
    "an encoded word in the subject": message(attachments=(), subject="=?utf-8?q?caf=C3=A9?= and more"),
}


@pytest.mark.parametrize("name", list(FIXTURES))
def test_fixtures_are_written_identically(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(FIXTURES[name], monkeypatch)


def test_other_shapes_keep_email_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """With attachments, or without HTML, the direct writer is not used (and so cannot differ)."""
    calls: list[object] = []
    monkeypatch.setattr(render_module, "write_alternative", lambda *args: calls.append(args))
    render(message(), loop_identity="contoso-crm")
    render(message(attachments=(), html_body="  "), loop_identity="contoso-crm")
    assert calls == []


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=60)
TAGS = ["<p>", "</p>", "<br>", "<ul><li>", "</li></ul>", "<pre>", "</pre>", "<blockquote>", "</blockquote>",
        "<a href='https://x.test/'>", "</a>", "<table><tr><td>", "</td><td>", "</td></tr></table>"]
HTML = st.lists(st.one_of(TEXT, st.sampled_from(TAGS)), min_size=1, max_size=40).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=TEXT, html=HTML, sender=NAMES, to=st.lists(NAMES, min_size=1, max_size=4),
       priority=st.sampled_from(list(Priority)), reply=st.booleans(), minutes=st.integers(0, 10**6))
def test_generated_messages_are_written_identically(monkeypatch: pytest.MonkeyPatch, subject: str, html: str,
                                                    sender: str, to: list[str], priority: Priority,
                                                    reply: bool, minutes: int) -> None:
    if not html.strip():
        html += "<p>x</p>"
    parent = ParentEmail("<parent@fabrikam.test>", ("<root@fabrikam.test>",),
                         thread_index=new_thread_index(SENT, uuid.UUID(int=minutes))) if reply else None
    msg = OutgoingMessage(
        message_id=new_message_id("contoso.com", token=uuid.UUID(int=minutes)),
        sender=MailAddress("anna.berg@contoso.com", sender), subject=subject, html_body=html,
        date=SENT + timedelta(minutes=minutes),
        to=[MailAddress(f"p{n}@fabrikam.com", name) for n, name in enumerate(to)], parent=parent,
        priority=priority, activity_id="email-1")
    try:
        assert_same(msg, monkeypatch)
    except Exception as exc:  # A message neither way can render must fail the same way both ways.
        with monkeypatch.context() as patch:
            patch.setattr(render_module, "_write_directly", lambda *args: None)
            with pytest.raises(type(exc)):
                render(msg, loop_identity="contoso-crm")


def test_a_batch_reuses_folded_headers_without_mixing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers are kept per (name, value): emails differing in one header each get their own."""
    first = replace(FIXTURES["the bench's quote"], to=[MailAddress("a@fabrikam.com", "A")])
    second = replace(first, to=[MailAddress("b@fabrikam.com", "A")])
    assert render(first, loop_identity="x").header("To") == "A <a@fabrikam.com>"
    assert render(second, loop_identity="x").header("To") == "A <b@fabrikam.com>"
    assert_same(second, monkeypatch)


def test_this_python_writes_directly() -> None:
    """The ``email`` package here has the encoder the writer borrows, so the comparisons above compare
    two writers, not one with itself."""
    from router.pipeline.outgoing import mime_writer
    assert mime_writer.write_alternative([("Subject", "x")], "t", "<p>t</p>", "=_b_0") is not None


PLAIN_ALPHABET = st.sampled_from([*"aZ09 =?()<>@,;:\\\"[]./!~", " ", "  ", "=?utf-8?q?x?=", "\t", "é"])


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(mime_writer.PLAIN_HEADERS)),
       text=st.lists(PLAIN_ALPHABET, max_size=40).map("".join))
def test_a_plain_header_is_written_as_the_policy_writes_it(name: str, text: str) -> None:
    """Per-email headers skip the policy when their value is plain, and must then give its very bytes."""
    written = mime_writer._plain(name, text)
    if written is not None:
        assert written == mime_writer._header.__wrapped__(name, text)


@settings(max_examples=200, deadline=None)
@given(when=st.datetimes(timezones=st.timezones() | st.just(UTC)))
def test_a_date_header_is_written_as_the_policy_writes_it(when: datetime) -> None:
    written = mime_writer._plain("Date", when)
    assert written is not None
    assert written == mime_writer._header.__wrapped__("Date", when)


def test_values_that_are_not_plain_go_through_the_policy() -> None:
    for text in ("x" * 80, "a  b", " a", "caf\u00e9", "=?utf-8?q?x?=", "a\tb", ""):
        assert mime_writer._plain("Subject", text) is None
    assert mime_writer._plain("X-Priority", "3 (Normal)") is None, "cached per value, not per email"


@settings(max_examples=100, deadline=None)
@given(domain=st.sampled_from(["contoso.com", "mail.fabrikam.test", "xn--caf-dma.test"]))
def test_a_message_id_header_is_written_as_the_policy_writes_it(domain: str) -> None:
    message_id = new_message_id(domain)
    written = mime_writer._plain("Message-ID", message_id)
    assert written is not None
    assert written == mime_writer._header.__wrapped__("Message-ID", message_id)


@settings(max_examples=200, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), number=st.integers(0, 999),
       other=st.text(st.sampled_from("abcXYZ019=_-."), min_size=1, max_size=70))
def test_the_multipart_content_type_is_written_as_the_policy_writes_it(seed: bytes, number: int,
                                                                       other: str) -> None:
    for boundary in (mime_body.boundary(seed, number), other):
        value = f'multipart/alternative; boundary="{boundary}"'
        assert mime_writer._multipart_type(boundary) == mime_writer._header.__wrapped__("Content-Type", value)
