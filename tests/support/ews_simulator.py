"""Reusable pytest fixtures: a running HTTPS EWS simulator seeded with a small organisation.

Use from any test package's conftest.py::

    from tests.support.ews_simulator import *  # noqa: F401,F403  (ews_simulator, exchangelib_trust, ...)

and in tests::

    def test_x(ews_simulator, exchangelib_trust):
        account = make_account(ews_simulator, "alice@contoso.com")              # Basic, own mailbox
        svc = make_account(ews_simulator, "queue@contoso.com", login=SVC, access_type=DELEGATE)
        imp = make_account(ews_simulator, "alice@contoso.com", login=SVC, access_type=IMPERSONATION)
        ntlm = make_account(ews_simulator, "alice@contoso.com", auth_type=NTLM)
        app = make_oauth_account(ews_simulator, "alice@contoso.com", client_id=APP_ID)  # app-only token
        ad = make_autodiscover_account(ews_simulator, "alice@contoso.com")          # autodiscover=True

Trusting the simulator's CA: exchangelib builds its requests sessions from
``BaseProtocol.HTTP_ADAPTER_CLS``. ``exchangelib_trust`` swaps in an adapter that verifies against
the simulator's CA file (TLS stays verified, nothing global like REQUESTS_CA_BUNDLE is touched) and,
at teardown, closes every exchangelib connection and clears its protocol and autodiscover caches.
Every request and response body is validated against the official schema when it is found
(``$EWS_SCHEMA_DIR``, else ``../shared/ews-schema`` beside the clone); a test fails at teardown if
any did not validate (``ews_simulator.simulator.validator.violations``). A clone without the schema runs
the same tests unvalidated (the session header says so); tests that exist only to validate take the
``requires_ews_schema`` fixture and are skipped there with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    OAuth2AuthorizationCodeCredentials,
    OAuth2Credentials,
)
from exchangelib.protocol import BaseProtocol, close_connections
from lxml import etree

from router.simulator import Controller, ServerConfig
from router.simulator.validation import SchemaValidator, load_schema
from tests.support.schema import ENV_SCHEMA_DIR, find_schema_dir

__all__ = [
    "ALICE",
    "APP_ID",
    "APP_SECRET",
    "BOB",
    "DELEGATE",
    "IMPERSONATION",
    "NTLM",
    "PASSWORD",
    "QUEUE",
    "SCHEMA_MISSING",
    "SMALL_ORG",
    "SVC",
    "assert_valid",
    "ews_schema",
    "ews_simulator",
    "ews_tls_dir",
    "exchangelib_trust",
    "make_account",
    "make_autodiscover_account",
    "make_oauth_account",
    "make_validator",
    "requires_ews_schema",
    "simulator_adapter",
]

PASSWORD = "Pa55word!"
ALICE, BOB, SVC, QUEUE = "alice@contoso.com", "bob@contoso.com", "svc-crm@contoso.com", "queue@contoso.com"
APP_ID, APP_SECRET = "11111111-2222-3333-4444-555555555555", "app-secret"
SMALL_ORG: dict[str, Any] = {
    "users": [
        {"address": ALICE, "name": "Alice Adams", "password": PASSWORD, "username": "alice"},
        {"address": BOB, "name": "Bob Brown", "password": PASSWORD, "username": "bob"},
        {
            "address": SVC,
            "name": "CRM Service",
            "password": PASSWORD,
            "username": "svc-crm",
            "application_impersonation": True,
        },
        {"address": QUEUE, "name": "Support Queue", "full_access": [SVC]},
    ],
    "apps": [{"client_id": APP_ID, "client_secret": APP_SECRET, "name": "router"}],
}
"""Alice and Bob (users), svc-crm (service account with ApplicationImpersonation and FullAccess on
the queue, but no send right on it), the queue (a shared mailbox), and one OAuth app."""


SCHEMA_MISSING = (
    f"the EWS schema was not found (set {ENV_SCHEMA_DIR} to a directory holding messages.xsd): "
    "simulator requests and responses are not validated"
)
"""The one line a run without the schema prints, and the reason schema-only tests are skipped."""


@pytest.fixture(scope="session")
def ews_schema() -> etree.XMLSchema | None:
    """The compiled official EWS schema, loaded once per test process; None when it is not found."""
    directory = find_schema_dir()
    return None if directory is None else load_schema(directory)


@pytest.fixture
def requires_ews_schema(ews_schema: etree.XMLSchema | None) -> etree.XMLSchema:
    """The schema, for tests that exist only to validate; skips them (with the reason) without it."""
    if ews_schema is None:
        pytest.skip(SCHEMA_MISSING)
    return ews_schema


def make_validator(schema: etree.XMLSchema | None) -> SchemaValidator | None:
    """A validator that records every violation, or None (no validation) when the schema is missing."""
    if schema is None:
        return None
    validator = SchemaValidator(schema=schema)
    # exchangelib sends m:Watermark in Subscribe, which the schema does not declare there.
    validator.allow("Subscribe", "Watermark")
    return validator


def assert_valid(validator: SchemaValidator | None) -> None:
    """Fail the test if any body the simulator read or wrote broke the schema (no-op unvalidated)."""
    if validator is not None:
        assert validator.violations == [], validator.violations


@pytest.fixture(scope="session")
def ews_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA and server certificate per test process."""
    return tmp_path_factory.mktemp("ews-sim-state")


@pytest.fixture
def ews_simulator(ews_schema: etree.XMLSchema | None, ews_tls_dir: Path) -> Iterator[Controller]:
    """A running HTTPS simulator seeded with SMALL_ORG; fails the test if any body broke the schema."""
    validator = make_validator(ews_schema)
    config = ServerConfig(streaming_minute=1.0, heartbeat_seconds=0.3)
    with Controller(config=config, state_dir=ews_tls_dir, seed=SMALL_ORG, validator=validator) as sim:
        yield sim
    assert_valid(validator)


def simulator_adapter(ca_file: Path) -> type[requests.adapters.HTTPAdapter]:
    """An HTTPAdapter class that verifies TLS against the simulator's CA instead of the system store."""

    class SimulatorCAAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            # Always verify, against the simulator's CA: requests passes REQUESTS_CA_BUNDLE (the system
            # store) here when the environment sets it, which would reject the simulator's certificate.
            if kwargs.get("verify", True) is not False:
                kwargs["verify"] = str(ca_file)
            return super().send(request, **kwargs)

    return SimulatorCAAdapter


@pytest.fixture
def exchangelib_trust(
    ews_simulator: Controller, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """Make exchangelib trust the simulator's CA for this test, and leave no connection or cache behind."""
    import exchangelib.autodiscover.cache as ad_cache
    from exchangelib.autodiscover import clear_cache

    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", simulator_adapter(ews_simulator.ca_file))
    monkeypatch.setattr(ad_cache, "AUTODISCOVER_PERSISTENT_STORAGE", tmp_path / "autodiscover.cache")
    yield
    close_connections()
    clear_cache()


def make_account(
    sim: Controller,
    address: str,
    *,
    login: str | None = None,
    password: str = PASSWORD,
    auth_type: str | None = BASIC,
    access_type: str = DELEGATE,
    probe_version: bool = False,
) -> Account:
    """An exchangelib Account on ``address``, logged on as ``login`` (default: the address's own user).

    ``auth_type=None`` lets exchangelib probe the server (it then picks NTLM); ``probe_version`` leaves
    the version to exchangelib's ConvertId probe instead of fixing it.
    """
    creds = Credentials(login or address, password)
    config = Configuration(
        service_endpoint=sim.url, credentials=creds, auth_type=auth_type, retry_policy=FailFast()
    )
    return Account(address, config=config, autodiscover=False, access_type=access_type)


def make_oauth_account(
    sim: Controller, address: str, *, client_id: str = APP_ID, user_token_for: str | None = None
) -> Account:
    """An OAuth account: app-only (client credentials against the simulator's token endpoint, with
    impersonation as Exchange requires), or with ``user_token_for`` a delegated token for that user."""
    if user_token_for is not None:
        token = sim.control.token(user=user_token_for)
        creds: Any = OAuth2AuthorizationCodeCredentials(
            access_token={"access_token": token, "token_type": "Bearer"}
        )
        access = DELEGATE
    else:
        creds = _SimulatorOAuth2Credentials(
            token_url=sim.token_url,
            client_id=client_id,
            client_secret=APP_SECRET,
            tenant_id="contoso",
            identity=Identity(primary_smtp_address=address),
        )
        access = IMPERSONATION
    config = Configuration(
        service_endpoint=sim.url, credentials=creds, auth_type=OAUTH2, retry_policy=FailFast()
    )
    return Account(address, config=config, autodiscover=False, access_type=access)


class _SimulatorOAuth2Credentials(OAuth2Credentials):  # type: ignore[misc]
    """Client credentials pointed at the simulator's token endpoint instead of Azure AD."""

    def __init__(self, *, token_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sim_token_url = token_url

    @property
    def token_url(self) -> str:
        return self._sim_token_url

    @property
    def scope(self) -> list[str]:
        return ["https://outlook.office365.com/.default"]


def make_autodiscover_account(
    sim: Controller, address: str, *, login: str | None = None, password: str = PASSWORD
) -> Account:
    """An Account built with autodiscover=True. exchangelib derives the autodiscover host from the email
    domain (port 443, DNS via dnspython), so the domain's cache entry is pre-seeded with the
    simulator's autodiscover endpoint; discovery then runs its real GetUserSettings request."""
    from exchangelib.autodiscover.cache import autodiscover_cache
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol

    creds = Credentials(login or address, password)
    protocol = AutodiscoverProtocol(
        config=Configuration(
            service_endpoint=sim.autodiscover_url, credentials=creds, auth_type=BASIC, retry_policy=FailFast()
        )
    )
    autodiscover_cache[(address.split("@", 1)[1], creds)] = protocol
    return Account(address, credentials=creds, autodiscover=True, access_type=DELEGATE)
