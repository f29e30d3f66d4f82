"""The one override of exchangelib the router makes: feed lxml whole chunks, not single bytes.

exchangelib 5.6.0 parses every EWS response with ``to_xml(response.iter_content())``. requests'
``iter_content`` defaults to ``chunk_size=1``, so the already-downloaded body reaches lxml one byte
at a time; that costs about 85-95 % of the client CPU of fetching a message (3.4 ms per 8 KB message,
see the exchangelib-performance reference). The replacement below is the 5.6.0 method with
``iter_content(chunk_size=64 * 1024)``; ``BytesGeneratorIO`` has accepted multi-byte chunks since 2019.

The override is installed only by an explicit ``install()`` (idempotent), and only when the installed
exchangelib is a version it was written for *and* the method it replaces still has the source it was
written against. Anything else logs a warning and leaves exchangelib untouched: slower, never wrong.
Streaming services (GetStreamingEvents) override the method themselves and reach this one only with
a ``DummyResponse`` holding one complete document; those are passed through unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import textwrap
import threading
from collections.abc import Iterable
from typing import Any

import exchangelib
import requests
from exchangelib.errors import MalformedResponseError, SOAPError
from exchangelib.services.common import EWSService
from exchangelib.util import SOAPNS, ParseError, to_xml

log = logging.getLogger(__name__)
exchangelib_log = logging.getLogger("exchangelib.services.common")

CHUNK_SIZE = 64 * 1024
"""Bytes handed to lxml per read: large enough that the per-chunk overhead vanishes."""

SUPPORTED_VERSIONS = frozenset({"5.6.0"})
"""exchangelib versions whose ``EWSService._get_soap_parts`` this override replaces."""

STOCK_SOURCE_SHA256 = "58f7ea4dfdaeab972896947e37aa566543ec68410792c604591ba43ec30a5374"
"""SHA-256 of the dedented source of exchangelib 5.6.0's ``EWSService._get_soap_parts``."""

_STOCK = EWSService.__dict__["_get_soap_parts"]
_lock = threading.Lock()


def _content_chunks(response: Any) -> Iterable[bytes] | bytes:
    """The response body in large chunks; exchangelib's own DummyResponse objects pass through as they are."""
    if isinstance(response, requests.Response):
        return response.iter_content(chunk_size=CHUNK_SIZE)
    return response.iter_content()  # type: ignore[no-any-return]


def _get_soap_parts(cls: type, response: Any) -> tuple[Any, Any]:
    """Split the SOAP response into its header and body elements (exchangelib 5.6.0, chunked reads)."""
    try:
        root = to_xml(_content_chunks(response))
    except ParseError as e:
        raise SOAPError(f"Bad SOAP response: {e}") from e
    header = root.find(f"{{{SOAPNS}}}Header")
    if header is None:
        # This is normal when the response contains SOAP-level errors.
        exchangelib_log.debug("No header in XML response")
    body = root.find(f"{{{SOAPNS}}}Body")
    if body is None:
        raise MalformedResponseError("No Body element in SOAP response")
    return header, body


_get_soap_parts.router_override = True  # type: ignore[attr-defined]


def stock_source_digest() -> str:
    """SHA-256 of the source of the stock method (the one captured when this module was imported)."""
    source = textwrap.dedent(inspect.getsource(_STOCK.__func__))
    return hashlib.sha256(source.encode()).hexdigest()


def _feeds_chunks() -> bool:
    """True when exchangelib's parser accepts multi-byte chunks, as the override relies on."""
    root = to_xml(iter([b"<a><b>chunk", b"ed</b><c/>", b"</a>"])).getroot()
    return bool(root.tag == "a" and root.findtext("b") == "chunked")


def incompatibility() -> str | None:
    """Why the override must not be installed here, or None when it is safe to install."""
    version = exchangelib.__version__
    if version not in SUPPORTED_VERSIONS:
        return f"exchangelib {version} is not one the override was written for ({sorted(SUPPORTED_VERSIONS)})"
    if not isinstance(_STOCK, classmethod) or stock_source_digest() != STOCK_SOURCE_SHA256:
        return "exchangelib's EWSService._get_soap_parts is not the code the override was written against"
    if not _feeds_chunks():
        return "exchangelib's parser does not accept multi-byte chunks"
    return None


def is_installed() -> bool:
    """True when exchangelib currently uses the override."""
    current = EWSService.__dict__.get("_get_soap_parts")
    return isinstance(current, classmethod) and getattr(current.__func__, "router_override", False)


def install() -> bool:
    """Install the override if it is safe to; returns whether it is installed. Safe to call repeatedly."""
    with _lock:
        if is_installed():
            return True
        problem = incompatibility()
        if problem is not None:
            log.warning("Not speeding up exchangelib's response parsing: %s. EWS responses will be parsed "
                        "byte by byte, which costs several times more CPU per message; update the override "
                        "in router/ews/perf.py for this exchangelib version.", problem)
            return False
        EWSService._get_soap_parts = classmethod(_get_soap_parts)
        log.info("exchangelib response parsing now reads %d-byte chunks", CHUNK_SIZE)
        return True


def uninstall() -> None:
    """Put exchangelib's own method back (for side-by-side measurements and tests)."""
    with _lock:
        EWSService._get_soap_parts = _STOCK
