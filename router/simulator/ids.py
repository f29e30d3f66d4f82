"""Opaque identifiers: item and folder ids in every ConvertId format, ChangeKeys and signed tokens.

Exchange ids are base64 blobs that clients must treat as opaque. The simulator's ids carry a kind
byte and a 16-byte unique id, so any id a client sends back can be decoded without a lookup table,
and a garbled one is recognised as malformed (``ErrorInvalidIdMalformed``) rather than unknown
(``ErrorItemNotFound``). Sync states, watermarks and subscription ids are signed with a per-server
secret so a forged or truncated one is detected (``ErrorInvalidSyncStateData``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from enum import Enum

PROVIDER_UID = bytes.fromhex("5e1a7ed0c0de4e2a9b1e0d5a3e11a7e5")
_EWS_PREFIX = b"\x00SIM"
_LEGACY_PREFIX = b"\x00SIL"
_STORE_PREFIX = b"\x00SIS"
_CK_PREFIX = b"CK"


class IdKind(Enum):
    """What an id names."""

    ITEM = b"I"
    FOLDER = b"F"
    ATTACHMENT = b"A"


class IdFormat(Enum):
    """The ConvertId formats of the schema's IdFormatType."""

    EWS_ID = "EwsId"
    EWS_LEGACY_ID = "EwsLegacyId"
    ENTRY_ID = "EntryId"
    HEX_ENTRY_ID = "HexEntryId"
    STORE_ID = "StoreId"
    OWA_ID = "OwaId"


class MalformedIdError(ValueError):
    """The text is not an id this server could have issued."""


class InvalidTokenError(ValueError):
    """A signed token (sync state, watermark, subscription id) is forged, truncated or stale."""


@dataclass(frozen=True)
class ObjectId:
    """A decoded id: its kind and 16-byte unique value."""

    kind: IdKind
    uid: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedIdError(text) from exc


def entry_id(oid: ObjectId) -> bytes:
    """The MAPI PR_ENTRYID of an object: flags, the store provider's uid, the object's kind and uid."""
    return b"\x00\x00\x00\x00" + PROVIDER_UID + oid.kind.value + oid.uid


def source_key(uid: bytes, counter: int) -> bytes:
    """A PR_SOURCE_KEY: a 16-byte replica guid (here derived from the uid) and a 6-byte counter."""
    return hashlib.md5(b"replica" + uid, usedforsecurity=False).digest() + counter.to_bytes(6, "big")


def encode(oid: ObjectId, fmt: IdFormat = IdFormat.EWS_ID) -> str:
    """Render an id in one of the ConvertId formats."""
    body = oid.kind.value + oid.uid
    entry = b"\x00\x00\x00\x00" + PROVIDER_UID + body
    if fmt is IdFormat.EWS_ID:
        return _b64(_EWS_PREFIX + body)
    if fmt is IdFormat.EWS_LEGACY_ID:
        return _b64(_LEGACY_PREFIX + body)
    if fmt is IdFormat.STORE_ID:
        return _b64(_STORE_PREFIX + body)
    if fmt is IdFormat.ENTRY_ID:
        return _b64(entry)
    if fmt is IdFormat.HEX_ENTRY_ID:
        return entry.hex().upper()
    return "Rg" + body.hex()


def decode(text: str, fmt: IdFormat | None = None) -> ObjectId:
    """Decode an id given in ``fmt`` (or any format when ``fmt`` is None); raise MalformedIdError."""
    text = (text or "").strip()
    raw = _raw_body(text, fmt)
    if len(raw) != 17:
        raise MalformedIdError(text)
    try:
        kind = IdKind(raw[:1])
    except ValueError as exc:
        raise MalformedIdError(text) from exc
    return ObjectId(kind, raw[1:])


def _raw_body(text: str, fmt: IdFormat | None) -> bytes:
    if fmt is IdFormat.HEX_ENTRY_ID or (fmt is None and len(text) == 2 * (20 + 17)):
        try:
            entry = bytes.fromhex(text)
        except ValueError as exc:
            raise MalformedIdError(text) from exc
        return _strip_entry(entry, text)
    if fmt is IdFormat.OWA_ID or (fmt is None and text.startswith("Rg") and len(text) == 36):
        try:
            return bytes.fromhex(text[2:])
        except ValueError as exc:
            raise MalformedIdError(text) from exc
    data = _unb64(text)
    for prefix in (_EWS_PREFIX, _LEGACY_PREFIX, _STORE_PREFIX):
        if data.startswith(prefix):
            return data[len(prefix) :]
    return _strip_entry(data, text)


def _strip_entry(entry: bytes, text: str) -> bytes:
    if entry[:4] != b"\x00\x00\x00\x00" or entry[4:20] != PROVIDER_UID:
        raise MalformedIdError(text)
    return entry[20:]


def change_key(uid: bytes, version: int) -> str:
    """Return the ChangeKey of version ``version`` of the object ``uid``."""
    return _b64(_CK_PREFIX + uid[:6] + struct.pack(">I", version))


def change_key_version(uid: bytes, key: str) -> int:
    """Return the version a ChangeKey names; raise MalformedIdError if it is not this object's key."""
    data = _unb64(key)
    if len(data) != 12 or not data.startswith(_CK_PREFIX) or data[2:8] != uid[:6]:
        raise MalformedIdError(key)
    return int(struct.unpack(">I", data[8:])[0])


class TokenSigner:
    """Signs small JSON payloads into opaque base64 tokens and checks them on the way back."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, kind: str, payload: dict[str, object]) -> str:
        body = json.dumps({"k": kind, **payload}, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:10]
        return _b64(mac + body)

    def verify(self, kind: str, token: str) -> dict[str, object]:
        """Return the payload of a token of ``kind``; raise InvalidTokenError when it is not genuine."""
        try:
            data = _unb64(token.strip())
        except MalformedIdError as exc:
            raise InvalidTokenError(token) from exc
        mac, body = data[:10], data[10:]
        expected = hmac.new(self._secret, body, hashlib.sha256).digest()[:10]
        if not hmac.compare_digest(mac, expected):
            raise InvalidTokenError(token)
        payload = json.loads(body)
        if not isinstance(payload, dict) or payload.get("k") != kind:
            raise InvalidTokenError(token)
        return payload
