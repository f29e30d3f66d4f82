"""``odata.guid`` answers what ``str(uuid.UUID(value))`` answers, for canonical ids by one match only."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.crm.dynamics import odata
from router.errors import CrmPermanentError


@given(st.uuids(), st.sampled_from([str, lambda s: s.upper(), lambda s: "{" + s + "}",
                                    lambda s: s.replace("-", ""), lambda s: "urn:uuid:" + s]))
def test_every_spelling_of_a_guid_becomes_the_canonical_one(value: uuid.UUID, spell: object) -> None:
    written = spell(str(value))  # type: ignore[operator]
    assert odata.guid(written) == str(uuid.UUID(written)) == str(value)


@pytest.mark.parametrize("bad", ["", "not-a-guid", "00000000-0000-0000-0000-00000000000g",
                                 "00000000-0000-0000-0000-0000000000001",
                                 "00000000-0000-0000-0000-000000000000\n",
                                 "00000000-0000-0000-0000-000000000000' or 1 eq 1"])
def test_anything_else_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(CrmPermanentError, match="mailbox id"):
        odata.guid(bad, "mailbox id")
