"""The whole content reaches the CRM (issue #15, cases 2-4): every inline text part in the description,
attachments under their own names, a wrong boundary read as the one used, external-body pointers
named so, header bytes decoded as what they are, and every change the router makes noted."""

from __future__ import annotations

import base64

import pytest

from router.crm.embedded.views import EmailView
from tests.flows.incoming.fates_kit import assert_counts_add_up, drain_counted
from tests.flows.incoming.rig import BERT, Rig, binding

pytestmark = pytest.mark.flow

HEAD = ("From: Carol <carol@fabrikam.com>\r\nTo: bert@contoso.com\r\n"
        "Date: Tue, 02 Jan 2024 09:30:00 +0100\r\nMIME-Version: 1.0\r\n")


def message(message_id: str, rest: str, subject: bytes = b"content") -> bytes:
    return (HEAD + f"Message-ID: {message_id}\r\n").encode() + b"Subject: " + subject + b"\r\n" + \
        rest.replace("\n", "\r\n").encode()


def delivered(rig: Rig, message_id: str) -> EmailView:
    [activity] = rig.activities(message_id)
    return rig.crm.email(activity)


def attachments(view: EmailView) -> list[tuple[str, int]]:
    return [(str(a["filename"]), int(a["filesize"])) for a in view.attachments]


MIXED = """Content-Type: multipart/mixed; boundary="X"

--X
Content-Type: text/plain; charset=utf-8

First plain part.
--X
Content-Type: text/html; charset=utf-8

<p>The HTML part.</p>
--X
Content-Type: text/plain; charset=utf-8

Second plain part.
--X
Content-Type: text/plain; charset=utf-8

Third plain part.
--X--
"""

ALTERNATIVE_THEN_NOTE = """Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: multipart/alternative; boundary="A"

--A
Content-Type: text/plain

The body as plain text.
--A
Content-Type: text/html

<p>The body as HTML.</p>
--A--
--M
Content-Type: text/plain

-- appended by the gateway
--M--
"""

SAME_NAMES = """Content-Type: multipart/mixed; boundary="X"

--X
Content-Type: text/plain

See the two logs.
--X
Content-Type: text/plain; name="msg.txt"
Content-Disposition: attachment; filename="msg.txt"

first log
--X
Content-Type: text/plain; name="msg.txt"
Content-Disposition: attachment; filename="msg.txt"

second log, longer
--X--
"""

NAMED_BODY = """Content-Type: multipart/mixed; boundary="X"

--X
Content-Type: text/plain; name="msg.txt"

The body, named as a file by its mailer.
--X
Content-Type: text/plain; name="msg.txt"

the log
--X--
"""

WRONG_BOUNDARY = """Content-Type: multipart/mixed; boundary="DECLARED"

--ACTUAL
Content-Type: text/plain

The real text.
--ACTUAL
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--ACTUAL--
"""

EXTERNAL = """Content-Type: multipart/mixed; boundary="X"

--X
Content-Type: text/plain

The report is on the file server.
--X
Content-Type: message/external-body; access-type=URL; URL="https://files.fabrikam.com/q3.pdf"

Content-Type: application/pdf

--X--
"""


def test_every_inline_text_part_and_attachment_reaches_the_crm(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    cases = (("<mixed@fabrikam.com>", MIXED), ("<alt@fabrikam.com>", ALTERNATIVE_THEN_NOTE),
             ("<names@fabrikam.com>", SAME_NAMES), ("<boundary@fabrikam.com>", WRONG_BOUNDARY),
             ("<external@fabrikam.com>", EXTERNAL), ("<named@fabrikam.com>", NAMED_BODY))
    for message_id, rest in cases:
        rig.sim.control.inject(BERT, message(message_id, rest))
    counted = assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert counted["delivered"] == 6

    mixed = delivered(rig, "<mixed@fabrikam.com>")
    text = str(mixed.row["description"])
    positions = [text.find(part) for part in ("First plain part.", "The HTML part.", "Second plain part.",
                                              "Third plain part.")]
    assert -1 not in positions and positions == sorted(positions), text
    assert attachments(mixed) == [], "inline text is shown in the description, not uploaded again"

    alt = str(delivered(rig, "<alt@fabrikam.com>").row["description"])
    assert "The body as HTML." in alt and "The body as plain text." not in alt
    assert alt.index("The body as HTML.") < alt.index("appended by the gateway")

    names = delivered(rig, "<names@fabrikam.com>")
    assert "See the two logs." in str(names.row["description"])
    assert sorted(attachments(names)) == [("msg.txt", 9), ("msg.txt", 18)]

    boundary = delivered(rig, "<boundary@fabrikam.com>")
    assert str(boundary.row["description"]).strip() == "The real text."
    assert attachments(boundary) == [("a.pdf", 9)]

    named = delivered(rig, "<named@fabrikam.com>")
    assert str(named.row["description"]) == "The body, named as a file by its mailer."
    assert attachments(named) == [("msg.txt", 7)]

    external = delivered(rig, "<external@fabrikam.com>")
    [(name, _)] = attachments(external)
    assert name == "external-body-1-q3.pdf.txt"
    [pointer] = external.attachments
    said = base64.b64decode(str(pointer["body"])).decode()
    assert "a pointer to content stored elsewhere (message/external-body)" in said
    assert "url=https://files.fabrikam.com/q3.pdf" in said and "Content-Type: application/pdf" in said


def changes(rig: Rig, message_id: str) -> str:
    with rig.store() as store:
        found = [d.text or "" for d in store.trail.for_message_id(message_id)
                 if (d.stage, d.result) == ("content", "changed")]
    assert len(found) == 1, found
    return found[0]


def test_header_bytes_decode_as_utf8_with_only_the_bad_bytes_replaced_and_noted(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    plain = "Content-Type: text/plain; charset=utf-8\n\nBonjour.\n"
    rig.sim.control.inject(BERT, message("<bad-byte@fabrikam.com>", plain,
                                         subject=b"caf\xc3\xa9 \xff au lait"))
    rig.sim.control.inject(BERT, message("<encoded@fabrikam.com>", plain,
                                         subject=b"=?utf-8?q?Gr=C3=BC=C3=9Fe_=FF=FE_und_caf=C3=A9?="))
    assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert delivered(rig, "<bad-byte@fabrikam.com>").row["subject"] == "café \ufffd au lait"
    assert delivered(rig, "<encoded@fabrikam.com>").row["subject"] == "Grüße \ufffd\ufffd und café"
    for message_id in ("<bad-byte@fabrikam.com>", "<encoded@fabrikam.com>"):
        assert "replaced bytes that are valid in no charset tried with U+FFFD in the subject" in \
            changes(rig, message_id)


def test_every_change_to_the_content_is_noted_in_the_trail(rig: Rig) -> None:
    rig.publish(binding("users", BERT))
    rig.sim.control.inject(BERT, message("<long@fabrikam.com>", "Content-Type: text/plain\n\nHi.\n",
                                         subject=b"s" * 2000))
    rig.sim.control.inject(BERT, message("<control@fabrikam.com>",
                                         "Content-Type: text/plain\n\nring \x07 the bell\n"))
    rig.sim.control.inject(BERT, message("<boundary@fabrikam.com>", WRONG_BOUNDARY))
    rig.sim.control.inject(BERT, message("<clean@fabrikam.com>", "Content-Type: text/plain\n\nHi.\n"))
    assert_counts_add_up(drain_counted(rig, BERT), BERT)
    assert delivered(rig, "<long@fabrikam.com>").row["subject"] == "s" * 800
    assert "cut the subject from 2000 to 800 characters (the CRM's limit)" in \
        changes(rig, "<long@fabrikam.com>")
    assert "removed control characters from message" in changes(rig, "<control@fabrikam.com>")
    assert str(delivered(rig, "<control@fabrikam.com>").row["description"]).startswith("ring  the bell")
    assert "read message with the boundary its body uses" in changes(rig, "<boundary@fabrikam.com>")
    with rig.store() as store:
        assert not [d for d in store.trail.for_message_id("<clean@fabrikam.com>") if d.result == "changed"]
