"""Size policy: deliver, strip oversized attachments and notify, or quarantine."""

from __future__ import annotations

import base64

import pytest

from router.errors import ConfigError
from router.pipeline.incoming import (
    Attachment,
    ParsedMessage,
    SizeAction,
    SizeMode,
    SizePolicy,
    SizeReason,
    apply_size_policy,
    parse_message,
)
from tests.unit.pipeline.incoming.builders import mime


def with_attachments(*sizes: int, body: str = "see attached") -> ParsedMessage:
    parts = [f"--m\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"]
    for number, size in enumerate(sizes, 1):
        data = base64.encodebytes(bytes(size)).decode("ascii")
        parts.append(f"--m\r\nContent-Type: application/octet-stream; name=\"f{number}.bin\"\r\n"
                     f"Content-Transfer-Encoding: base64\r\n\r\n{data}")
    return parse_message(mime("Content-Type: multipart/mixed; boundary=m", body="".join(parts) + "--m--"))


def names(attachments: tuple[Attachment, ...]) -> list[str]:
    return [a.filename for a in attachments]


def test_within_limits_delivers_everything() -> None:
    parsed = with_attachments(1000, 2000)
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=10_000, max_attachment_bytes=5000))
    assert decision.action is SizeAction.DELIVER and decision.reason is SizeReason.WITHIN_LIMITS
    assert decision.kept == parsed.attachments and decision.stripped == () and not decision.notify


def test_attachment_over_its_limit_is_stripped_and_flagged() -> None:
    parsed = with_attachments(1000, 6000, 2000)
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=100_000, max_attachment_bytes=5000))
    assert decision.action is SizeAction.DELIVER and decision.reason is SizeReason.ATTACHMENTS_STRIPPED
    assert names(decision.kept) == ["f1.bin", "f3.bin"] and names(decision.stripped) == ["f2.bin"]
    assert decision.notify and "f2.bin (6000 bytes)" in decision.text


def test_oversized_message_loses_its_largest_attachments_until_it_fits() -> None:
    parsed = with_attachments(3000, 9000, 6000, 500)
    limit = parsed.size - 10_000  # removing the 9000-byte file alone (about 12 KB encoded) is enough
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=limit))
    assert names(decision.stripped) == ["f2.bin"]
    assert names(decision.kept) == ["f1.bin", "f3.bin", "f4.bin"]
    tighter = apply_size_policy(parsed, SizePolicy(max_message_bytes=parsed.size - 15_000))
    assert names(tighter.stripped) == ["f2.bin", "f3.bin"] and tighter.notify


def test_body_too_large_even_without_attachments_is_quarantined() -> None:
    parsed = with_attachments(100, body="x" * 50_000)
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=10_000))
    assert decision.action is SizeAction.QUARANTINE and decision.reason is SizeReason.BODY_TOO_LARGE
    assert decision.kept == () and not decision.notify


@pytest.mark.parametrize(("policy", "reason"), [
    (SizePolicy(max_message_bytes=1000, mode=SizeMode.QUARANTINE), SizeReason.MESSAGE_TOO_LARGE),
    (SizePolicy(max_message_bytes=10**6, max_attachment_bytes=1000, mode=SizeMode.QUARANTINE),
     SizeReason.ATTACHMENT_TOO_LARGE),
])
def test_quarantine_mode_sets_the_whole_message_aside(policy: SizePolicy, reason: SizeReason) -> None:
    decision = apply_size_policy(with_attachments(4000), policy)
    assert decision.action is SizeAction.QUARANTINE and decision.reason is reason
    assert decision.kept == () and decision.stripped == () and not decision.notify


def test_no_attachment_content_is_decoded_to_decide() -> None:
    # An attached message nested too deeply to regenerate raises as soon as its content is read,
    # so a decision made about it proves that the policy never reads content.
    inner = "From: a@fabrikam.example\r\n\r\nbottom\r\n"
    for _ in range(600):
        inner = f"From: a@fabrikam.example\r\nContent-Type: message/rfc822\r\n\r\n{inner}"
    parsed = parse_message(mime("Content-Type: multipart/mixed; boundary=x",
                                body=f"--x\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--x--"))
    (attached,) = parsed.attachments
    decision = apply_size_policy(parsed, SizePolicy(max_message_bytes=1000))
    assert decision.stripped == (attached,) and decision.notify
    assert with_attachments(4000).attachments[0].size == 4000  # exact from the base64 text alone


@pytest.mark.parametrize("kwargs", [{"max_message_bytes": 0},
                                    {"max_message_bytes": 10, "max_attachment_bytes": 0}])
def test_invalid_limits_are_config_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="invalid size policy"):
        SizePolicy(**kwargs)
