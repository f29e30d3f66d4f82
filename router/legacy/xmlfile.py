"""Load one legacy XML file with a hardened parser, or fail with a LegacyImportError naming it.

The files come from another machine and are read by an admin tool, so the parser trusts nothing:
no network access, no DTD loading, no entity expansion (billion laughs, XXE), no huge-tree mode, and a
document that declares a DOCTYPE at all is refused — the legacy router never wrote one. lxml's
exceptions are wrapped here, at the edge that meets them.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from router.errors import LegacyImportError

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Refuse anything larger: a SystemState file for thousands of mailboxes is a few megabytes."""

_HINT_BROKEN = (
    "give the Microsoft.Crm.Tools.EmailAgent.xml / .SystemState.xml exactly as the legacy router wrote "
    "them; a corrupt SystemState file (legacy event #16192) can be restored from a backup or left out, "
    "in which case every mailbox starts processing from the time of the import"
)


def _parser() -> etree.XMLParser:
    """Return a fresh parser that cannot reach the network or expand entities."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _read_bytes(path: Path) -> bytes:
    """Read the file, refusing directories, unreadable files, oversized files and empty ones."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LegacyImportError(
                f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit for a legacy router file",
                path=str(path), hint="check that this is a legacy E-mail Router XML file")
        data = path.read_bytes()
    except OSError as exc:
        raise LegacyImportError(f"cannot read the file: {exc.strerror or exc}", path=str(path),
                                hint="check the path and its permissions") from exc
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise LegacyImportError("file is empty: no root element", path=str(path), hint=_HINT_BROKEN)
    return data


_DOCTYPE_MARKERS = tuple(b"<!DOCTYPE".decode().encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


def _refuse_doctype(path: Path) -> LegacyImportError:
    """Return the error for a document that declares a DOCTYPE."""
    return LegacyImportError(
        "the file declares a DOCTYPE; legacy router files never do, and DTDs can carry entity "
        "bombs or external-entity reads, so it is refused", path=str(path),
        hint="remove the <!DOCTYPE ...> declaration if you trust the file's origin")


def load_xml(path: Path) -> etree._Element:
    """Parse ``path`` and return its root element.

    Raises LegacyImportError for an unreadable, empty, oversized or malformed file, and for a file that
    declares a DOCTYPE (entity declarations are how XML bombs and external-entity reads are smuggled).
    """
    data = _read_bytes(path)
    # A DTD is refused before libxml2 sees it, so no entity declaration is ever processed.
    if any(marker in data.upper() for marker in _DOCTYPE_MARKERS):
        raise _refuse_doctype(path)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise LegacyImportError(f"not well-formed XML{line}: {exc.msg}", path=str(path),
                                hint=_HINT_BROKEN) from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise _refuse_doctype(path)
    return root


def local_name(element: etree._Element) -> str:
    """Return the element's name without any namespace."""
    return etree.QName(element).localname


def xml_path(element: etree._Element) -> str:
    """Return the element's XPath, e.g. ``/Configuration/ProviderConfiguration[2]/EmailUser``."""
    return str(element.getroottree().getpath(element))


def child_elements(element: etree._Element) -> list[etree._Element]:
    """Return the element children (comments and processing instructions are stripped at parse)."""
    return [child for child in element if isinstance(child.tag, str)]


def source_line(element: etree._Element) -> int | None:
    """Return the element's line in its file, when the parser recorded one."""
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) else None
