"""A deployment's loop identity: the name stamped in X-Email-Router-Loop on everything it sends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from router.config import Deployment


def test_the_default_is_the_deployments_name() -> None:
    assert Deployment().loop_name("contoso") == "contoso"


def test_an_explicit_identity_is_shared_by_routers_serving_one_crm() -> None:
    assert Deployment(loop_identity="contoso-crm").loop_name("contoso-east") == "contoso-crm"


def test_an_identity_unfit_for_a_header_is_refused() -> None:
    with pytest.raises(ValidationError, match="loop_identity"):
        Deployment(loop_identity="two words")
