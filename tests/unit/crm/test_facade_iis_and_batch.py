"""IIS's URL limits in front of the Web API, the OData ``$batch`` that passes them, and ``MSCRMCallerID``.

The limits and status codes are what the reference (``dynamics-webapi.md`` §5.1) records of a real
on-premises server: maxQueryString 2,048 → 404.15, maxUrl 4,096 → 404.14; the facade enforces them so
the adapter meets them in tests. CheckIncomingEmail with ~65 recipients passes the query-string limit:
the adapter must then send it in a ``$batch``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from pydantic import SecretStr
from requests_ntlm import HttpNtlmAuth

from router.clock import FrozenClock
from router.crm.codes import MailboxTestStatus
from router.crm.dynamics import DynamicsGateway, batch
from router.crm.dynamics.batch import MAX_QUERY_STRING, fits_iis
from router.crm.embedded import EmbeddedCrm, EmbeddedGateway
from router.crm.embedded.admin import find_mailbox
from router.crm.facade import CrmFacade, FacadeCredentials
from router.crm.gateway import MailboxTestResult
from router.errors import CrmPermanentError, CrmRecordNotFoundError
from tests.support.crm import (
    SERVICE_ACCOUNT,
    SERVICE_PASSWORD,
    Organisation,
    facade_credentials,
    incoming_email,
    ntlm_settings,
)

JSON = {"Accept": "application/json", "OData-Version": "4.0"}
MANY = tuple(f"colleague{n:03d}@contoso.com" for n in range(100))
"""Recipients enough for CheckIncomingEmail's query string to pass 2,048 bytes."""


@pytest.fixture
def api(crm_facade: CrmFacade) -> Iterator[tuple[requests.Session, str]]:
    with requests.Session() as session:
        session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
        session.headers.update(JSON)
        yield session, crm_facade.api_url("9.0", "contoso")


# IIS's limits, as a real on-premises server applies them (the reference, not the adapter) ----------

def test_a_query_string_over_2048_bytes_is_refused_with_404_15(api: tuple[requests.Session, str]) -> None:
    session, base = api
    prefix = base + "WhoAmI()?x="
    fits = session.get(prefix + "a" * (MAX_QUERY_STRING - 2))
    assert fits.status_code == 200, "exactly 2,048 bytes of query string pass"
    refused = session.get(prefix + "a" * (MAX_QUERY_STRING - 1))
    assert refused.status_code == 404 and "HTTP Error 404.15 - Query String Too Long" in refused.text
    assert refused.headers["Content-Type"] == "text/html", "IIS's own error page, not the Web API's JSON"


def test_a_path_over_4096_bytes_is_refused_with_404_14(api: tuple[requests.Session, str]) -> None:
    session, base = api
    refused = session.get(base + "emails(" + "0" * 4096 + ")")
    assert refused.status_code == 404 and "HTTP Error 404.14 - URL Too Long" in refused.text


def test_a_request_line_past_http_sys_limit_is_414(api: tuple[requests.Session, str]) -> None:
    session, base = api
    assert session.get(base + "WhoAmI()?x=" + "a" * 17_000).status_code == 414


def test_an_encoded_query_counts_its_percent_escapes(api: tuple[requests.Session, str]) -> None:
    session, base = api
    # 700 '<' are 700 characters but 2,100 bytes once percent-encoded, as IIS counts them.
    assert session.get(base + "WhoAmI()?x=" + "%3C" * 700).status_code == 404


# $batch on the facade --------------------------------------------------------------------------------

def _batch(session: requests.Session, base: str, *lines: str) -> requests.Response:
    boundary = f"batch_{uuid.uuid4()}"
    parts = "".join(f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                    f"\r\n{line}\r\nAccept: application/json\r\n\r\n" for line in lines)
    body = parts + f"--{boundary}--\r\n"
    return session.post(base + "$batch", data=body.encode(),
                        headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})


def test_a_batch_answers_each_request_in_its_own_part(api: tuple[requests.Session, str],
                                                      crm_org: Organisation) -> None:
    session, base = api
    missing = uuid.uuid4()
    answer = _batch(session, base, f"GET {base}WhoAmI() HTTP/1.1", f"GET emails({missing}) HTTP/1.1")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    text = answer.text
    boundary = answer.headers["Content-Type"].split("boundary=")[1]
    parts = [p for p in text.split(f"--{boundary}") if "HTTP/1.1" in p]
    assert len(parts) == 2 and text.rstrip().endswith(f"--{boundary}--")
    assert "HTTP/1.1 200 OK" in parts[0] and crm_org.service.id in parts[0]
    assert "HTTP/1.1 404 Not Found" in parts[1] and "0x80040217" in parts[1]


def test_a_batch_part_may_name_its_url_relative_to_the_root(api: tuple[requests.Session, str],
                                                            crm_org: Organisation) -> None:
    session, base = api
    answer = _batch(session, base, "GET WhoAmI() HTTP/1.1")
    assert answer.status_code == 200 and crm_org.service.id in answer.text


def test_a_batch_that_is_no_multipart_or_holds_a_change_set_is_refused(
        api: tuple[requests.Session, str]) -> None:
    session, base = api
    plain = session.post(base + "$batch", json={})
    assert plain.status_code == 400 and "multipart/mixed" in plain.json()["error"]["message"]
    body = ("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http"
            "\r\n\r\nPOST emails HTTP/1.1\r\n\r\n{}\r\n--c--\r\n--b--\r\n")
    nested = session.post(base + "$batch", data=body.encode(),
                          headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert nested.status_code == 400 and "change sets" in nested.json()["error"]["message"]
    assert session.get(base + "$batch").status_code == 405
    inner = _batch(session, base, f"POST {base}$batch HTTP/1.1")
    assert inner.status_code == 400 and "cannot itself be a $batch" in inner.json()["error"]["message"]


# The adapter's CheckIncomingEmail: a GET while it fits, a $batch beyond -------------------------------

def test_check_incoming_with_many_recipients_goes_in_a_batch_and_decides_as_the_crm_does(
        crm_facade: CrmFacade, crm_clock: FrozenClock, embedded_crm: EmbeddedCrm) -> None:
    email = incoming_email(message_id="<many@fabrikam.com>", to=("alice@contoso.com", *MANY))
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        result = gateway.check_incoming(email)
    finally:
        gateway.close()
    assert result == EmbeddedGateway(embedded_crm, SERVICE_ACCOUNT).check_incoming(email)
    assert result.should_deliver
    served = crm_facade.journal.entries()
    assert [(s.method, s.path.rsplit("/", 1)[-1], s.result) for s in served] == [("POST", "$batch", 200)]


def test_check_incoming_with_few_recipients_is_a_plain_get(crm_facade: CrmFacade,
                                                           crm_clock: FrozenClock) -> None:
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        assert gateway.check_incoming(incoming_email()).should_deliver
    finally:
        gateway.close()
    [served] = crm_facade.journal.entries()
    assert served.method == "GET" and "CheckIncomingEmail(" in served.path and served.result == 200


def test_the_batch_threshold_is_iis_default_limit() -> None:
    base = "https://crm.contoso.com/contoso/api/data/v9.0/CheckIncomingEmail(MessageId=@p1)?"
    assert fits_iis(base + "q" * MAX_QUERY_STRING)
    assert not fits_iis(base + "q" * (MAX_QUERY_STRING + 1))
    assert not fits_iis("https://crm.contoso.com/" + "p" * 4096)


# Test Access results of many mailboxes: one $batch of PATCHes -------------------------------------------

def _statuses(embedded_crm: EmbeddedCrm, address: str) -> tuple[object, object]:
    with embedded_crm.reading() as conn:
        row = find_mailbox(conn, address)
    return row["incomingemailstatus"], row["outgoingemailstatus"]


def test_test_results_of_many_mailboxes_go_in_one_batch(crm_facade: CrmFacade, crm_org: Organisation,
                                                         crm_clock: FrozenClock,
                                                         embedded_crm: EmbeddedCrm) -> None:
    ok, failed = MailboxTestStatus.SUCCESS, MailboxTestStatus.FAILURE
    results = [MailboxTestResult(crm_org.mailbox("alice@contoso.com"), ok, failed, crm_clock.now()),
               MailboxTestResult(crm_org.mailbox("sales@contoso.com"), failed, ok, crm_clock.now())]
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        gateway.record_mailbox_tests(results)
    finally:
        gateway.close()
    assert [(s.method, s.path.rsplit("/", 1)[-1], s.result) for s in crm_facade.journal.entries()] == [
        ("POST", "$batch", 200)]
    assert _statuses(embedded_crm, "alice@contoso.com") == (1, 2)
    assert _statuses(embedded_crm, "sales@contoso.com") == (2, 1)


def test_a_batch_with_a_mailbox_gone_writes_the_others_and_names_the_gone_one(
        crm_facade: CrmFacade, crm_org: Organisation, crm_clock: FrozenClock,
        embedded_crm: EmbeddedCrm) -> None:
    ok = MailboxTestStatus.SUCCESS
    gone = "0f0e0d0c-0b0a-0908-0706-050403020100"
    results = [MailboxTestResult(gone, ok, ok, crm_clock.now()),
               MailboxTestResult(crm_org.mailbox("sales@contoso.com"), ok, ok, crm_clock.now())]
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        with pytest.raises(CrmRecordNotFoundError, match=gone):
            gateway.record_mailbox_tests(results)
    finally:
        gateway.close()
    assert _statuses(embedded_crm, "sales@contoso.com") == (1, 1)


def test_more_results_than_a_batch_may_carry_go_in_several(
        crm_facade: CrmFacade, crm_org: Organisation, crm_clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "MAX_REQUESTS", 2)
    ok = MailboxTestStatus.SUCCESS
    boxes = ("alice@contoso.com", "sales@contoso.com", "bert@contoso.com")
    gateway = DynamicsGateway(ntlm_settings(crm_facade), clock=crm_clock)
    try:
        gateway.record_mailbox_tests([MailboxTestResult(crm_org.mailbox(b), ok, ok, crm_clock.now())
                                      for b in boxes])
    finally:
        gateway.close()
    assert [s.path.rsplit("/", 1)[-1] for s in crm_facade.journal.entries()] == ["$batch", "$batch"]


# MSCRMCallerID -----------------------------------------------------------------------------------------

@pytest.fixture
def privileged_facade(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> Iterator[CrmFacade]:
    """The facade where the service account holds prvActOnBehalfOfAnotherUser (PrivUserGroup)."""
    base = facade_credentials()
    credentials = FacadeCredentials(ntlm_accounts=base.ntlm_accounts, oauth_clients=base.oauth_clients,
                                    act_on_behalf=frozenset({SERVICE_ACCOUNT}))
    with CrmFacade(embedded_crm, credentials=credentials) as facade:
        yield facade


def test_the_adapter_acting_for_a_user_is_served_as_that_user(
        privileged_facade: CrmFacade, crm_org: Organisation, crm_clock: FrozenClock) -> None:
    gateway = DynamicsGateway(ntlm_settings(privileged_facade, impersonate=crm_org.bert.id), clock=crm_clock)
    try:
        assert gateway.who_am_i().user_id == crm_org.bert.id
        assert gateway.check_incoming(incoming_email(to=("alice@contoso.com", *MANY))).should_deliver
    finally:
        gateway.close()
    plain = DynamicsGateway(ntlm_settings(privileged_facade), clock=crm_clock)
    try:
        assert plain.who_am_i().user_id == crm_org.service.id
    finally:
        plain.close()


def test_acting_for_a_user_without_the_privilege_is_forbidden(
        crm_facade: CrmFacade, crm_org: Organisation, crm_clock: FrozenClock) -> None:
    gateway = DynamicsGateway(ntlm_settings(crm_facade, impersonate=crm_org.bert.id), clock=crm_clock)
    try:
        with pytest.raises(CrmPermanentError) as caught:
            gateway.who_am_i()
    finally:
        gateway.close()
    assert "403" in caught.value.message and "prvActOnBehalfOfAnotherUser" in caught.value.message


def test_acting_for_an_unknown_user_or_with_a_bad_id_is_refused(
        privileged_facade: CrmFacade, crm_org: Organisation, crm_clock: FrozenClock,
        embedded_crm: EmbeddedCrm) -> None:
    unknown = str(uuid.uuid4())
    gateway = DynamicsGateway(ntlm_settings(privileged_facade, impersonate=unknown), clock=crm_clock)
    try:
        with pytest.raises(CrmRecordNotFoundError, match=f"systemuser With Id = {unknown} Does Not Exist"):
            gateway.who_am_i()
    finally:
        gateway.close()
    session = requests.Session()
    session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
    with session:
        bad = session.get(privileged_facade.api_url("9.0", "contoso") + "WhoAmI()",
                          headers={**JSON, "MSCRMCallerID": "not-a-guid"})
    assert bad.status_code == 400 and "MSCRMCallerID" in bad.json()["error"]["message"]


def test_credentials_default_to_nobody_acting_for_others() -> None:
    assert FacadeCredentials(ntlm_accounts={"X\\y": SecretStr("z")}).act_on_behalf == frozenset()
