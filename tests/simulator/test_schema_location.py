"""Where the EWS schema is looked for: a clone without ``shared/`` is unvalidated, a wrong variable fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from router.errors import SimulatorError
from router.simulator.validation import load_schema
from tests.support.schema import ENV_SCHEMA_DIR, find_schema_dir


def test_no_variable_and_no_shared_copy_means_no_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_SCHEMA_DIR, raising=False)
    assert find_schema_dir(tmp_path / "clone") is None


def test_a_directory_without_a_loadable_schema_is_named(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match=re.escape(str(tmp_path))):
        load_schema(tmp_path)


def test_a_shared_copy_beside_the_clone_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SCHEMA_DIR, raising=False)
    schema = tmp_path / "shared" / "ews-schema"
    schema.mkdir(parents=True)
    (schema / "messages.xsd").write_text("<xs:schema/>")
    assert find_schema_dir(tmp_path / "clone") == schema


def test_a_variable_naming_a_directory_without_the_schema_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SCHEMA_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(SimulatorError, match=r"holds no messages\.xsd") as caught:
        find_schema_dir()
    assert ENV_SCHEMA_DIR in str(caught.value.hint)
