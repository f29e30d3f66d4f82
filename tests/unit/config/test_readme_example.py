"""The TOML example in the README is a valid profiles file, so the documentation cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from router.config import AccessType, load_profiles
from router.vault.credentials import CredentialKind

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_profiles_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README lost its TOML example"
    (tmp_path / "example.toml").write_text(blocks[0])
    ps = load_profiles(tmp_path, credentials={"svc-exchange": CredentialKind.PASSWORD})
    assert ps.profiles["onprem-in"].access_type is AccessType.DELEGATE
    assert [m.incoming_profile for m in ps.mailboxes()] == ["onprem-in"]
