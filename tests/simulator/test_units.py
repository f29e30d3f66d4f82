"""Unit checks of the simulator's building blocks: ids, MIME header edits, change tracking, tokens."""

from __future__ import annotations

import uuid

import pytest

from router.simulator import ids, mime
from router.simulator.changes import ChangeKind, ChangeLog
from router.simulator.model import User
from router.simulator.versions import EXCHANGE_SE, ServerBuild


@pytest.mark.parametrize("fmt", list(ids.IdFormat))
def test_every_convert_id_format_round_trips(fmt: ids.IdFormat) -> None:
    oid = ids.ObjectId(ids.IdKind.ITEM, uuid.uuid4().bytes)
    assert ids.decode(ids.encode(oid, fmt), fmt) == oid
    assert ids.decode(ids.encode(oid, fmt)) == oid


def test_malformed_ids_and_change_keys_are_recognised() -> None:
    for text in ("DUMMY", "", "AAAA", ids.encode(ids.ObjectId(ids.IdKind.ITEM, b"x" * 16))[:-4]):
        with pytest.raises(ids.MalformedIdError):
            ids.decode(text)
    uid = uuid.uuid4().bytes
    assert ids.change_key_version(uid, ids.change_key(uid, 7)) == 7
    with pytest.raises(ids.MalformedIdError):
        ids.change_key_version(uuid.uuid4().bytes, ids.change_key(uid, 7))


def test_signed_tokens_detect_tampering() -> None:
    signer = ids.TokenSigner(b"k" * 32)
    token = signer.sign("items", {"s": 4})
    assert signer.verify("items", token)["s"] == 4
    with pytest.raises(ids.InvalidTokenError):
        signer.verify("wm", token)
    with pytest.raises(ids.InvalidTokenError):
        ids.TokenSigner(b"other").verify("items", token)


def test_header_edits_keep_the_body_byte_for_byte() -> None:
    raw = (
        b"From: a@x.com\r\nBcc: hidden@x.com\r\nSubject: long\r\n folded subject\r\n\r\n"
        b"body line\r\n\r\nsecond paragraph\r\n"
    )
    edited = mime.edit_headers(
        raw,
        set_=[("From", "P <p@x.com>"), ("Sender", "C <c@x.com>"), ("Bcc", None)],
        prepend=[("Received", "from a by b")],
        add_missing=[("Message-ID", "<1@x>")],
    )
    head, body = edited.split(b"\r\n\r\n", 1)
    assert body == b"body line\r\n\r\nsecond paragraph\r\n"
    assert head.startswith(b"Received: from a by b\r\nFrom: P <p@x.com>")
    assert b"Bcc" not in head and b"Sender: C <c@x.com>" in head and b"Message-ID: <1@x>" in head
    assert b"Subject: long\r\n folded subject" in head


def test_summary_decodes_encoded_names() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@x.de>\r\nTo: a@x.com, B <b@x.com>\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n"
    )
    summary = mime.summarize(raw)
    assert summary.from_ is not None and summary.from_.name == "Jürgen"
    assert summary.subject == "Grüße"
    assert [a.email for a in summary.to] == ["a@x.com", "b@x.com"]


def test_change_log_nets_changes_since_a_state() -> None:
    log = ChangeLog()
    a, b, c = (uuid.uuid4().bytes for _ in range(3))
    log.created(a, 1)
    log.created(b, 2)
    log.modified(a, 3, read_only=True)
    log.created(c, 4)
    log.removed(c, 5)
    log.removed(b, 6)
    assert [(ch.kind, ch.uid) for ch in log.since(2)] == [(ChangeKind.READ_FLAG, a), (ChangeKind.DELETE, b)]
    assert [ch.kind for ch in log.since(0)] == [ChangeKind.CREATE]


def test_build_limits_request_versions() -> None:
    assert EXCHANGE_SE.accepts("Exchange2016") and EXCHANGE_SE.accepts("Exchange2007_SP1")
    assert not EXCHANGE_SE.accepts("V2018_01_08") and not EXCHANGE_SE.accepts("Exchange2099")
    exchange2013 = ServerBuild.parse("15.0.1497.2")
    assert exchange2013.accepts("Exchange2013_SP1") and not exchange2013.accepts("Exchange2016")
    with pytest.raises(ValueError):
        ServerBuild.parse("15.2")


def test_restrictions_evaluate_on_items() -> None:
    from lxml import etree

    from router.simulator.restriction import compile_restriction
    from router.simulator.store import Store

    store = Store()
    store.add_user(User("a@x.com", "A"))
    inbox = store.distinguished("a@x.com", "inbox")
    assert inbox is not None
    item = store.add_item(inbox, b"From: b@y.com\r\nSubject: Invoice 7\r\n\r\nx", is_read=True)
    t = "http://schemas.microsoft.com/exchange/services/2006/types"

    def check(xml: str) -> bool:
        el = etree.fromstring(f'<m:Restriction xmlns:m="urn:m" xmlns:t="{t}">{xml}</m:Restriction>')
        return compile_restriction(el)(item)

    assert check(
        '<t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
        '<t:FieldURI FieldURI="item:Subject"/><t:Constant Value="invoice"/></t:Contains>'
    )
    assert not check(
        '<t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/>'
        '<t:FieldURIOrConstant><t:Constant Value="0"/></t:FieldURIOrConstant></t:IsEqualTo>'
    )
    assert check(
        '<t:Excludes><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/>'
        '<t:Bitmask Value="8"/></t:Excludes>'
    )
    assert not check(
        '<t:Excludes><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/>'
        '<t:Bitmask Value="0x1"/></t:Excludes>'
    )
