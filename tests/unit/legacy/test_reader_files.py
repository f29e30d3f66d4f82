"""Fatal file problems: each one a LegacyImportError naming the file, never a traceback or a hang."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.errors import LegacyImportError
from router.legacy import FindingKind, read_installation
from router.legacy.xmlfile import MAX_FILE_BYTES


def _error(paths: list[Path]) -> LegacyImportError:
    with pytest.raises(LegacyImportError) as caught:
        read_installation(paths)
    return caught.value


@pytest.mark.parametrize(("name", "words"), [
    ("empty.xml", "file is empty"),
    ("blank.xml", "file is empty"),
    ("truncated-state.xml", "not well-formed XML at line"),
    ("Microsoft.Crm.Tools.EmailAgent.Configuration.bin", "not well-formed XML"),
    ("EncryptionKey.xml", "root element <EncryptionKey> is neither"),
    ("billion-laughs.xml", "declares a DOCTYPE"),
    ("external-entity.xml", "declares a DOCTYPE"),
    ("undeclared-entity.xml", "not well-formed XML"),
])
def test_unreadable_file_is_a_clear_error(data: Path, name: str, words: str) -> None:
    error = _error([data / "bad" / name])
    assert words in error.message
    assert error.path == str(data / "bad" / name) and error.hint
    assert error.exit_code == 9


def test_external_entity_is_never_read(data: Path) -> None:
    error = _error([data / "bad" / "external-entity.xml"])
    assert "root:" not in str(error)


def test_every_failing_file_is_listed_at_once(data: Path) -> None:
    error = _error([data / "bad" / "empty.xml", data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml",
                    data / "bad" / "truncated-state.xml"])
    assert "2 legacy files could not be read" in error.message
    assert "empty.xml" in error.message and "truncated-state.xml" in error.message


def test_missing_file_and_oversized_file(tmp_path: Path) -> None:
    assert "cannot read the file" in _error([tmp_path / "nope.xml"]).message
    big = tmp_path / "big.xml"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    assert "byte limit" in _error([big]).message


def test_files_are_told_apart_by_root_not_name(data: Path, tmp_path: Path) -> None:
    shutil.copy(data / "full" / "Microsoft.Crm.Tools.EmailAgent.SystemState.xml", tmp_path / "a.xml")
    shutil.copy(data / "full" / "Microsoft.Crm.Tools.EmailAgent.xml", tmp_path / "b-state.xml")
    installation = read_installation([tmp_path / "a.xml", tmp_path / "b-state.xml"])
    assert len(installation.configs) == 1 and len(installation.states) == 1
    assert installation.configs[0].file.endswith("b-state.xml")


def test_directory_skips_other_xml_files_with_a_note(data: Path, tmp_path: Path) -> None:
    for name in ("Microsoft.Crm.Tools.EmailAgent.xml", "Microsoft.Crm.Tools.EmailAgent.SystemState.xml"):
        shutil.copy(data / "full" / name, tmp_path / name)
    shutil.copy(data / "bad" / "EncryptionKey.xml", tmp_path / "EncryptionKey.xml")
    (tmp_path / "notes.txt").write_text("not xml")
    installation = read_installation([tmp_path])
    assert len(installation.configs) == 1 and len(installation.states) == 1
    (skipped,) = [f for f in installation.findings if f.kind is FindingKind.SKIPPED_FILE]
    assert skipped.file.endswith("EncryptionKey.xml")


def test_directory_without_legacy_files_is_an_error(data: Path, tmp_path: Path) -> None:
    assert "no .xml file" in _error([tmp_path]).message
    shutil.copy(data / "bad" / "EncryptionKey.xml", tmp_path / "EncryptionKey.xml")
    assert "none of the files" in _error([tmp_path]).message
    assert "no legacy file given" in _error([]).message


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16"])
def test_byte_order_marks_and_utf16_as_windows_writes_them(data: Path, tmp_path: Path, codec: str) -> None:
    text = (data / "official" / "Microsoft.Crm.Tools.EmailAgent.xml").read_text(encoding="utf-8")
    declared = text.replace('encoding="utf-8"', f'encoding="{codec.removesuffix("-sig")}"')
    target = tmp_path / "agent.xml"
    target.write_bytes(declared.encode(codec))
    (config,) = read_installation([target]).configs
    assert config.system.log_file == "c:\\emailRouterLog.txt"


def test_utf16_doctype_is_refused_before_parsing(data: Path, tmp_path: Path) -> None:
    text = (data / "bad" / "billion-laughs.xml").read_text(encoding="utf-8")
    target = tmp_path / "bomb16.xml"
    target.write_bytes(text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
                       .encode("utf-16"))
    assert "declares a DOCTYPE" in _error([target]).message
