"""Message keys: one spelling of a Message-ID, a stable hash for messages without one."""

from __future__ import annotations

import pytest

from router.state import derive_message_key, normalize_message_id


@pytest.mark.parametrize("spelling",
                         ["<a.b@x.test>", "a.b@x.test", "  <a.b@x.test>\r\n", "<a.b@\r\n x.test>"])
def test_every_spelling_normalizes_to_one_form(spelling: str) -> None:
    assert normalize_message_id(spelling) == "<a.b@x.test>"


@pytest.mark.parametrize("empty", [None, "", "  ", "<>"])
def test_no_message_id_normalizes_to_none(empty: str | None) -> None:
    assert normalize_message_id(empty) is None


def test_the_key_is_the_message_id_when_there_is_one() -> None:
    assert derive_message_key("a@x", [b"ignored"]) == "<a@x>"


def test_without_message_id_the_key_is_a_stable_hash_of_the_parts() -> None:
    key = derive_message_key(None, [b"From: a@x", "Subject: hi"])
    assert key.startswith("sha256:") and len(key) == len("sha256:") + 64
    assert key == derive_message_key("", [b"From: a@x", b"Subject: hi"])
    assert key != derive_message_key(None, [b"From: a@xSubject: hi"])


def test_without_message_id_or_parts_there_is_no_key() -> None:
    with pytest.raises(ValueError, match="fallback"):
        derive_message_key(None, [])
