"""Rendering produces transportable MIME that mail parsers read back as the CRM email was written."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from router.errors import MessageError
from router.pipeline.headers import LOOP_HEADER
from router.pipeline.outgoing.addresses import MailAddress
from router.pipeline.outgoing.message import Attachment, OutgoingMessage, ParentEmail, Priority
from router.pipeline.outgoing.message_id import new_message_id
from router.pipeline.outgoing.render import RenderedMessage
from router.pipeline.outgoing.render import render as render_with
from router.pipeline.outgoing.thread_index import new_thread_index, parse_thread_index

SENT = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
FILENAME = "Résumé \u2013 année 2026.pdf"
MESSAGE_ID = new_message_id("contoso.com", token=uuid.UUID(int=7))
LONG_PARENT_ID = "<" + "p" * 120 + "@mail.fabrikam.test>"
PARENT_INDEX = new_thread_index(SENT - timedelta(days=1), uuid.UUID(int=99))


LOOP_IDENTITY = "contoso-crm"


def render(message: OutgoingMessage) -> RenderedMessage:
    return render_with(message, loop_identity=LOOP_IDENTITY)


def message(**changes: object) -> OutgoingMessage:
    base = OutgoingMessage(
        message_id=MESSAGE_ID,
        sender=MailAddress("anna.berg@contoso.com", "Anna Müller-Berg"),
        subject="Angebot für Ihr Projekt CRM:0001011",
        html_body="<p>Hallo <b>Jörg</b>,</p><p>anbei das Angebot.</p><img src='cid:logo@contoso'>",
        date=SENT,
        to=[MailAddress("jorg@bücher.de", "Müller, Jörg")],
        cc=[MailAddress("sales@contoso.com")],
        bcc=[MailAddress("archive@contoso.com", "Archive")],
        attachments=[
            Attachment(FILENAME, b"%PDF-1.7\n" * 40, "application/pdf"),
            Attachment("logo.png", b"\x89PNG\r\n\x1a\n" * 8, "image/png", "<logo@contoso>"),
        ],
        activity_id="email-42",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def parse(rendered: RenderedMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(rendered.mime)
    assert isinstance(parsed, EmailMessage)
    return parsed


def structure(part: EmailMessage) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [structure(sub) for sub in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


def test_headers_read_back_as_written() -> None:
    rendered = render(message())
    parsed = parse(rendered)
    assert parsed["From"] == "Anna Müller-Berg <anna.berg@contoso.com>"
    assert parsed["To"].addresses[0].display_name == "Müller, Jörg"
    assert parsed["To"].addresses[0].addr_spec == "jorg@xn--bcher-kva.de"
    assert parsed["Cc"] == "sales@contoso.com"
    assert parsed["Subject"] == "Angebot für Ihr Projekt CRM:0001011"
    assert parsed["Message-ID"] == MESSAGE_ID == rendered.message_id
    assert parsed[LOOP_HEADER] == LOOP_IDENTITY
    assert parsed["Date"].datetime == SENT
    assert parsed["Sender"] is None


def test_bcc_is_not_in_the_mime_but_is_in_the_envelope() -> None:
    rendered = render(message())
    assert b"archive@contoso.com" not in rendered.mime
    assert b"Bcc" not in rendered.mime
    assert rendered.bcc == (MailAddress("archive@contoso.com", "Archive"),)
    assert rendered.recipients == ("jorg@xn--bcher-kva.de", "sales@contoso.com", "archive@contoso.com")


def test_body_structure_with_inline_image_and_attachment() -> None:
    parsed = parse(render(message()))
    assert structure(parsed) == ("multipart/mixed", [
        ("multipart/alternative", ["text/plain", ("multipart/related", ["text/html", "image/png"])]),
        "application/pdf",
    ])
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Hallo Jörg,\n\nanbei das Angebot.\n"
    assert "<b>Jörg</b>" in html.get_content()


def test_attachment_and_inline_image_keep_names_and_ids() -> None:
    parsed = parse(render(message()))
    attachments = list(parsed.iter_attachments())
    assert [part.get_filename() for part in attachments] == [FILENAME]
    assert attachments[0].get_content() == b"%PDF-1.7\n" * 40
    assert attachments[0].get_param("name") == FILENAME
    image = next(part for part in parsed.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo@contoso>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == b"\x89PNG\r\n\x1a\n" * 8


def test_output_is_seven_bit_with_short_lines_even_for_huge_fields() -> None:
    rendered = render(message(
        subject="Ü" + "x" * 3000 + " " + "wort " * 400,
        html_body="<p>" + "y" * 5000 + "</p>",
        to=[MailAddress("a@example.com", "N" * 300 + " Ñame")],
        attachments=[Attachment("é" * 400 + ".txt", b"z" * 5000, "text/plain")],
        parent=ParentEmail(LONG_PARENT_ID, tuple(f"<ref{n}.{'r' * 60}@x.test>" for n in range(30))),
    ))
    assert rendered.mime.isascii()
    assert max(len(line) for line in rendered.mime.split(b"\r\n")) <= 998
    parsed = parse(rendered)
    assert parsed["Subject"] == "Ü" + "x" * 3000 + " " + ("wort " * 400).strip()
    assert next(parsed.iter_attachments()).get_filename() == "é" * 400 + ".txt"


def test_a_reply_threads_with_its_parent() -> None:
    parent = ParentEmail(LONG_PARENT_ID, ("<root@fabrikam.test>",), PARENT_INDEX, "Angebot für Ihr Projekt")
    rendered = render(message(subject="RE: Angebot für Ihr Projekt CRM:0001011", parent=parent))
    parsed = parse(rendered)
    assert parsed["In-Reply-To"] == LONG_PARENT_ID
    assert parsed["References"].split() == ["<root@fabrikam.test>", LONG_PARENT_ID]
    assert LONG_PARENT_ID.encode() in rendered.mime  # written whole, never as an encoded-word
    assert parsed["Thread-Topic"] == "Angebot für Ihr Projekt"
    child = parse_thread_index(parsed["Thread-Index"])
    assert child.guid == uuid.UUID(int=99)
    assert len(child.responses) == 1
    assert abs(child.sent_times[1] - SENT) < timedelta(milliseconds=40)
    assert rendered.warnings == ()


def test_a_new_email_starts_a_conversation() -> None:
    rendered = render(message(subject="FW: Angebot"))
    assert rendered.header("In-Reply-To") is None and rendered.header("References") is None
    assert rendered.thread_topic == "Angebot"
    index = parse_thread_index(rendered.thread_index)
    assert index.responses == () and abs(index.created - SENT) < timedelta(milliseconds=7)


def test_damaged_parent_headers_are_repaired_not_fatal() -> None:
    parent = ParentEmail("<broken id@x>", ("<ok@x>", "junk <>"), "%%%not-base64", None)
    rendered = render(message(parent=parent))
    assert rendered.header("In-Reply-To") is None
    assert rendered.header("References") == "<ok@x>"
    assert parse_thread_index(rendered.thread_index).responses == ()
    assert len(rendered.warnings) == 3
    assert any("In-Reply-To" in warning for warning in rendered.warnings)
    assert any("new conversation index" in warning for warning in rendered.warnings)


def test_references_are_trimmed_to_the_first_and_the_latest() -> None:
    refs = tuple(f"<r{n}@x>" for n in range(40))
    rendered = render(message(parent=ParentEmail("<p@x>", refs)))
    ids = (rendered.header("References") or "").split()
    assert len(ids) == 20 and ids[0] == "<r0@x>" and ids[-2:] == ["<r39@x>", "<p@x>"]


def test_rendering_is_repeatable_and_unique_per_message_id() -> None:
    assert render(message()).mime == render(message()).mime
    other = render(message(message_id=new_message_id("contoso.com")))
    assert other.mime != render(message()).mime
    assert other.thread_index != render(message()).thread_index


@pytest.mark.parametrize(
    ("priority", "importance", "x_priority"),
    [(Priority.LOW, "low", "5 (Lowest)"), (Priority.NORMAL, "normal", "3 (Normal)"),
     (Priority.HIGH, "high", "1 (Highest)")],
)
def test_priority_becomes_importance_and_x_priority(
        priority: Priority, importance: str, x_priority: str) -> None:
    rendered = render(message(priority=priority))
    assert (rendered.header("Importance"), rendered.header("X-Priority")) == (importance, x_priority)


def test_crm_priority_codes() -> None:
    assert [Priority.from_crm(code) for code in (0, 1, 2, None, 7)] == [
        Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.NORMAL, Priority.NORMAL]


def test_duplicates_are_dropped_and_injection_is_defused() -> None:
    rendered = render(message(
        subject="Hi\r\nBcc: evil@x.test",
        to=[MailAddress("a@x.test"), MailAddress("A@X.test", "dup")],
        cc=[MailAddress("a@x.test")],
        bcc=[MailAddress("b@x.test"), MailAddress("a@x.test")],
    ))
    assert rendered.recipients == ("a@x.test", "b@x.test")
    assert rendered.header("Subject") == "Hi Bcc: evil@x.test"
    assert parse(rendered)["Bcc"] is None


def test_attachment_types_are_checked_or_guessed() -> None:
    rendered = render(message(attachments=[
        Attachment("forwarded.eml", b"From: a@b\r\n\r\nbody", "message/rfc822"),
        Attachment("report.pdf", b"%PDF", ""),
        Attachment("", b"data", "not a type"),
    ]))
    types = [(part.get_filename(), part.get_content_type()) for part in parse(rendered).iter_attachments()]
    assert types == [("forwarded.eml", "application/octet-stream"), ("report.pdf", "application/pdf"),
                     ("attachment", "application/octet-stream")]
    assert len(rendered.warnings) == 2


def test_an_empty_html_body_sends_plain_text_only() -> None:
    parsed = parse(render(message(html_body="  ", attachments=[])))
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().strip() == ""


def test_no_recipient_is_an_error_naming_the_email() -> None:
    with pytest.raises(MessageError, match="no recipient") as info:
        render(message(to=[], cc=[], bcc=[]))
    assert info.value.item_id == "email-42"
    assert "CRM" in info.value.hint


def test_a_bad_address_names_its_role() -> None:
    with pytest.raises(MessageError, match="Cc address is not usable") as info:
        render(message(cc=[MailAddress("not-an-address")]))
    assert "email-42" in str(info.value)
    with pytest.raises(MessageError, match="sender address"):
        render(message(sender=MailAddress("jörg@contoso.com")))


def test_caller_mistakes_are_refused() -> None:
    with pytest.raises(MessageError, match="not a valid Message-ID"):
        render(message(message_id="no brackets or at"))
    with pytest.raises(ValueError, match="timezone-aware"):
        message(date=datetime(2026, 1, 1))


def test_an_unusable_loop_identity_is_a_config_error() -> None:
    from router.errors import ConfigError

    with pytest.raises(ConfigError, match="loop identity"):
        render_with(message(), loop_identity="two words")
