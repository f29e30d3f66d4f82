"""A Hypothesis strategy for raw Internet messages of every shape the router meets, broken ones too.

``messages()`` draws the bytes of one message: a structure (plain text, HTML, alternative, mixed
with attachments and several inline text parts, nested, an attached message, a report, an
external-body pointer, a declared boundary that the body does not use), charsets (UTF-8, Latin-1,
Windows-1252, KOI8-R, Shift_JIS, ISO-2022-JP, an unknown one), transfer encodings (7bit, 8bit,
quoted-printable, base64, broken base64), and headers that are sometimes broken (invalid bytes in a
Subject, a missing From or Message-ID, an unreadable Date, a 2,000-character Subject, control
characters, broken encoded words). Message-IDs come from a small pool, so several items share one
with different content, as resends and copies do.

Built by hand, not with ``email.message``: the point is bytes no well-behaved library would write.
"""

from __future__ import annotations

import base64
import quopri

from hypothesis import strategies as st

CHARSETS = ("utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "iso-2022-jp", "x-unknown-8bit")
WORDS = ("Order", "invoice", "café", "Grüße", "Привет", "こんにちは", "naïve", "€ 42", "ok", "déjà vu")
ID_POOL = tuple(f"<gen-{n}@fabrikam.example>" for n in range(40))
SENDERS = ("carol@fabrikam.com", "dan@fabrikam.com", "Eve Example <eve@example.org>", "no-at-sign",
           "=?utf-8?q?Caf=C3=A9_Owner?= <owner@cafe.example>")
RECIPIENTS = ("bert@contoso.com", "sales@contoso.com", "alice@contoso.com", "x@fabrikam.com")

text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)


def _encode(body: str, charset: str, encoding: str) -> tuple[bytes, str]:
    """The body's bytes in ``charset`` with ``encoding``; the charset actually declared."""
    codec = "latin-1" if charset == "x-unknown-8bit" else charset
    data = body.encode(codec, "replace")
    if encoding == "base64":
        return base64.encodebytes(data), charset
    if encoding == "broken-base64":
        return base64.encodebytes(data)[:-3] + b"!!*\n", charset
    if encoding == "quoted-printable":
        return quopri.encodestring(data), charset
    return data + b"\n", charset


@st.composite
def leaf(draw: st.DrawFn, kind: str | None = None) -> bytes:
    """One non-multipart part: text/plain or text/html, or an attachment."""
    kind = kind or draw(st.sampled_from(("text/plain", "text/html", "attachment", "inline-text")))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(("7bit", "8bit", "quoted-printable", "base64", "broken-base64")))
    body = draw(text)
    declared = "base64" if encoding == "broken-base64" else encoding
    if kind == "attachment":
        name = draw(st.sampled_from(("msg.txt", "report.pdf", "Grüße.txt", "=?utf-8?b?w6ljaGFudA==?=.bin")))
        data, _ = _encode(body, "utf-8", "base64")
        return (f'Content-Type: application/octet-stream; name="{name}"\n'
                f'Content-Disposition: attachment; filename="{name}"\n'
                "Content-Transfer-Encoding: base64\n\n").encode() + data
    subtype = "html" if kind == "text/html" else "plain"
    content = f"<p>{body}</p>" if subtype == "html" else body
    data, charset = _encode(content, charset, encoding)
    header = f"Content-Type: text/{subtype}; charset={charset}\nContent-Transfer-Encoding: {declared}\n"
    if kind == "inline-text":
        header += "Content-Disposition: inline\n"
    return header.encode() + b"\n" + data


@st.composite
def multipart(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A multipart of leaves (and, once, a nested multipart); sometimes with a wrong boundary."""
    subtype = draw(st.sampled_from(("mixed", "alternative", "related", "report")))
    boundary = f"b{depth}-{draw(st.integers(0, 999))}"
    parts = draw(st.lists(leaf(), min_size=1, max_size=4))
    if depth == 0 and draw(st.booleans()):
        parts.append(draw(multipart(depth + 1)))
    if draw(st.integers(0, 9)) == 0:
        parts.append(b'Content-Type: message/external-body; access-type=URL; URL="http://x.example/f"\n\n'
                     b"Content-Type: application/pdf\n\n")
    used = boundary if draw(st.integers(0, 9)) else boundary + "-not-this"
    extra = "; report-type=delivery-status" if subtype == "report" and draw(st.booleans()) else ""
    body = b"".join(f"--{used}\n".encode() + part + b"\n" for part in parts) + f"--{used}--\n".encode()
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\n\n'.encode() + body


@st.composite
def subject(draw: st.DrawFn) -> bytes:
    """A Subject header value, sometimes broken."""
    words = draw(text)
    style = draw(st.sampled_from(("plain", "utf8-raw", "bad-byte", "encoded", "broken-word", "long",
                                  "control")))
    if style == "utf8-raw":
        return words.encode()
    if style == "bad-byte":
        return "café ".encode() + b"\xff" + words.encode()
    if style == "encoded":
        return f"=?utf-8?b?{base64.b64encode(words.encode()).decode()}?=".encode()
    if style == "broken-word":
        return b"=?utf-8?q?caf=C3?= " + words.encode()
    if style == "long":
        return ("x" * 2000).encode()
    if style == "control":
        return b"bell\x07 and escape\x1b[31m " + words.encode()
    return words.encode("ascii", "replace")


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """The raw bytes of one message (LF line ends, as Exchange's MIME often has)."""
    if not draw(st.integers(0, 40)):
        return draw(st.sampled_from((b"\x00\x01\x02 a stray binary file", b"   \n\n  ",
                                     b"\n\nno header at all, only text\n")))
    headers: list[bytes] = [b"MIME-Version: 1.0"] if draw(st.integers(0, 9)) else []
    if draw(st.integers(0, 14)):
        headers.append(f"From: {draw(st.sampled_from(SENDERS))}".encode())
    headers.append(f"To: {', '.join(draw(st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=3)))}"
                   .encode())
    if draw(st.booleans()):
        headers.append(f"Cc: {', '.join(draw(st.lists(st.sampled_from(RECIPIENTS), max_size=3)))}".encode())
    headers.append(b"Subject: " + draw(subject()))
    date = draw(st.sampled_from(("Tue, 02 Jan 2024 09:30:00 +0100", "yesterday", "", None)))
    if date is not None:
        headers.append(f"Date: {date}".encode())
    if draw(st.integers(0, 4)):
        headers.append(f"Message-ID: {draw(st.sampled_from(ID_POOL))}".encode())
    headers += draw(st.lists(st.sampled_from((
        b"Auto-Submitted: auto-replied", b"Precedence: bulk", b"Precedence: list", b"X-Priority: 1",
        b"Header-Without-Colon", b"X-Bad: \x80\x81\xfe", b"Return-Path: <>", b"X-Mailer: gen",
        b"Thread-Topic: gen", b"Importance: high", b"X-Spam: no")), max_size=2, unique=True))
    body = draw(st.one_of(leaf("text/plain"), leaf("text/html"), multipart()))
    return b"\n".join(headers) + b"\n" + body
