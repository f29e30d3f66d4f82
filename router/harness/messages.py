"""Realistic inbound mail of a chosen size, as Exchange would hand it to the router.

The benchmark's figures depend on what a message looks like, so the messages look like real ones
(the exchangelib-performance reference's methodology): four ``Received`` hops, DKIM and ARC
signatures, Exchange's ``X-MS-Exchange-*`` headers, a ``multipart/alternative`` text + HTML body,
and for larger sizes a PDF attachment of random bytes (incompressible, as real PDFs mostly are).
``SIZES`` holds the two sizes the benchmark uses: about 8 KB and about 50 KB.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from router.clock import Clock, SystemClock

SIZES = {"8KB": 8 * 1024, "50KB": 50 * 1024}
"""Target sizes in bytes of the whole RFC 822 message."""

_WORDS = ("order", "delivery", "invoice", "account", "support", "please", "thank", "regards", "meeting",
          "schedule", "contract", "renewal", "payment", "shipment", "tracking", "question", "update",
          "status", "request", "follow", "review", "team", "customer", "product", "service", "quote",
          "discount", "warranty", "replacement")
ATTACHMENT_ABOVE = 16 * 1024
"""Messages larger than this carry a PDF attachment (the 50 KB kind); smaller ones are text + HTML."""


@dataclass(frozen=True)
class Envelope:
    """Who sends what to whom, and how the message threads."""

    sender: str
    to: str
    subject: str
    message_id: str
    in_reply_to: str | None = None
    sender_name: str = ""


def _prose(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    lines = [" ".join(words[i:i + 12]) + "." for i in range(0, len(words), 12)]
    return "\n".join(line.capitalize() for line in lines)


def _folded(name: str, value: str) -> str:
    """``name: value`` folded at 76 columns, breaking long tokens (signatures) as real mailers do."""
    out, line = [], f"{name}: "
    for token in value.split(" "):
        while len(line) + len(token) > 76:
            if len(token) <= 60 and line.strip():
                out.append(line.rstrip())
                line = "\t"
                break
            room = 76 - len(line)
            if room < 16:
                out.append(line.rstrip())
                line = "\t"
                continue
            out.append(line + token[:room])
            token, line = token[room:], "\t"
        line += token + " "
    out.append(line.rstrip())
    return "\r\n".join(out) + "\r\n"


def _trace_headers(env: Envelope, date: str, rng: random.Random) -> str:
    """Received hops, DKIM, ARC and Exchange's own headers, as raw folded header lines."""
    domain = env.sender.rsplit("@", 1)[-1]
    relay = f"mail-eopbgr{rng.randrange(100, 999)}.outbound.protection.outlook.com"
    hops = [(relay, "mx.contoso.com"), ("edge01.contoso.com", "ex01.contoso.com"),
            ("ex01.contoso.com", "ex02.contoso.com"), (f"smtp.{domain}", relay)]
    signature = base64.b64encode(rng.randbytes(256)).decode()
    lines = [_folded("Received", f"from {source} ({rng.randrange(1, 254)}.{rng.randrange(1, 254)}.0.1) by "
                     f"{target} with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_"
                     f"256_GCM_SHA384) id 15.2.{rng.randrange(1000, 2999)}.{rng.randrange(1, 40)}; {date}")
             for source, target in hops]
    lines.append(_folded("DKIM-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=selector1; "
                         "h=From:Date:Subject:Message-ID:Content-Type:MIME-Version; "
                         f"bh={base64.b64encode(rng.randbytes(32)).decode()}; b={signature}"))
    lines.append(_folded("ARC-Seal", f"i=1; a=rsa-sha256; s=arcselector9901; d=microsoft.com; cv=none; "
                         f"b={signature}"))
    lines.append(_folded("ARC-Authentication-Results", f"i=1; mx.microsoft.com 1; spf=pass "
                         f"smtp.mailfrom={domain}; dmarc=pass action=none header.from={domain}; "
                         f"dkim=pass header.d={domain}; arc=none"))
    lines.append("X-MS-Exchange-Organization-SCL: 1\r\n")
    lines.append("X-MS-Exchange-Organization-AuthAs: Anonymous\r\n")
    lines.append(f"X-MS-Exchange-Organization-Network-Message-Id: {rng.getrandbits(128):032x}\r\n")
    lines.append("X-MS-TNEF-Correlator:\r\n")
    return "".join(lines)


def build_message(env: Envelope, size: int, *, seed: int = 0, clock: Clock | None = None) -> bytes:
    """An RFC 822 message from ``env`` of about ``size`` bytes (within a few hundred bytes)."""
    rng = random.Random(seed)
    date = format_datetime((clock or SystemClock()).now())
    trace = _trace_headers(env, date, rng).encode()
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"{env.sender_name} <{env.sender}>" if env.sender_name else env.sender
    msg["To"] = env.to
    msg["Subject"] = env.subject
    msg["Date"] = date
    msg["Message-ID"] = env.message_id
    if env.in_reply_to:
        msg["In-Reply-To"] = env.in_reply_to
        msg["References"] = env.in_reply_to
    headers = len(msg.as_bytes()) + len(trace)
    attachment = max(0, (size - headers - 3000) * 3 // 4) if size > ATTACHMENT_ABOVE else 0
    text_budget = max(400, (size - headers - attachment * 4 // 3 - 1200) // 2)
    text = _prose(rng, text_budget)
    msg.set_content(text)
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
    msg.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    if attachment:
        msg.make_mixed()
        msg.add_attachment(b"%PDF-1.4\n" + rng.randbytes(attachment), maintype="application",
                           subtype="pdf", filename="quote.pdf")
    return trace + msg.as_bytes()
