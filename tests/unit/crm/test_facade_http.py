"""The Web API facade over HTTP, as any OData client sees it: auth, routing, paging, ETags, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from lxml import etree
from pydantic import SecretStr
from requests_ntlm import HttpNtlmAuth

from router.crm.embedded import EmbeddedCrm
from router.crm.facade import CrmFacade, FacadeCredentials
from tests.support.crm import SERVICE_ACCOUNT, SERVICE_PASSWORD, Organisation, draft_email

JSON = {"Accept": "application/json", "OData-Version": "4.0"}


@pytest.fixture
def api(crm_facade: CrmFacade) -> Iterator[tuple[requests.Session, str]]:
    """An NTLM-authenticated session and the v9.0 Web API root."""
    with requests.Session() as session:
        session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
        session.headers.update(JSON)
        yield session, crm_facade.api_url("9.0", "contoso")


def test_an_unauthenticated_request_is_challenged(crm_facade: CrmFacade) -> None:
    response = requests.get(crm_facade.api_url() + "WhoAmI()", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Negotiate, NTLM, Bearer realm="email-router"'
    assert response.json()["error"]["code"] == "0x80040220"


def test_a_wrong_password_is_refused(crm_facade: CrmFacade) -> None:
    response = requests.get(
        crm_facade.api_url() + "WhoAmI()", auth=HttpNtlmAuth(SERVICE_ACCOUNT, "wrong"), timeout=10
    )
    assert response.status_code == 401


def test_an_account_that_is_no_crm_user_is_forbidden(
    embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    credentials = FacadeCredentials(ntlm_accounts={"CONTOSO\\visitor": SecretStr("Visit0r!")})
    with CrmFacade(embedded_crm, credentials=credentials) as facade:
        response = requests.get(
            facade.api_url() + "WhoAmI()", auth=HttpNtlmAuth("CONTOSO\\visitor", "Visit0r!"), timeout=10
        )
    assert response.status_code == 403 and "rejected the caller" in response.json()["error"]["message"]


def test_ntlm_authenticates_the_connection_once(api: tuple[requests.Session, str]) -> None:
    session, base = api
    first = session.get(base + "WhoAmI()")
    second = session.get(base + "WhoAmI()")
    assert first.status_code == second.status_code == 200
    assert len(first.history) == 2 and second.history == []


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "CheckIncomingEmail(MessageId=@p1)", 404, "0x8006088a"),
        ("GET", "BackgroundSendEmail", 405, "0x80060888"),
        ("POST", "emails/DeliverIncomingEmail", 400, "0x80040203"),
        ("GET", "nosuchset", 404, "0x8006088a"),
        ("GET", "emails(42)", 400, "0x80040203"),
        ("GET", "emails(0f0e0d0c-0b0a-0908-0706-050403020100)", 404, "0x80040217"),
        ("DELETE", "systemusers(0f0e0d0c-0b0a-0908-0706-050403020100)", 405, "0x80060888"),
        ("GET", "emails?$select=nosuch", 400, "0x80040203"),
        ("GET", "emails?$filter=statuscode eq", 400, "0x80040203"),
        ("GET", "emails?$expand=nosuch", 400, "0x80040203"),
    ],
)
def test_routing_errors_look_like_dynamics(
    api: tuple[requests.Session, str], method: str, path: str, status: int, code: str
) -> None:
    session, base = api
    response = session.request(method, base + path, json={} if method == "POST" else None)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_metadata_declares_the_messages_as_dynamics_does(api: tuple[requests.Session, str]) -> None:
    session, base = api
    response = session.get(base + "$metadata")
    document = etree.fromstring(response.content)
    ns = {"e": "http://docs.oasis-open.org/odata/ns/edm"}
    check = document.find(".//e:Function[@Name='CheckIncomingEmail']", ns)
    deliver = document.find(".//e:Action[@Name='DeliverIncomingEmail']", ns)
    send = document.find(".//e:Action[@Name='SendEmail']", ns)
    assert check is not None and check.get("IsBound") == "false"
    assert deliver is not None and deliver.find("e:Parameter", ns).get("Type") == "Collection(mscrm.email)"
    assert send is not None and send.find("e:Parameter", ns).get("Type") == "mscrm.email"
    assert document.find(".//e:ActionImport[@Name='BackgroundSendEmail']", ns) is not None
    assert document.find(".//e:EntitySet[@Name='emails']", ns) is not None


def test_paging_follows_next_links_to_the_end(api: tuple[requests.Session, str]) -> None:
    session, base = api
    url, names, pages = base + "systemusers?$select=fullname&$orderby=fullname desc", [], 0
    while url:
        page = session.get(url, headers={"Prefer": "odata.maxpagesize=2"})
        assert page.status_code == 200
        names += [row["fullname"] for row in page.json()["value"]]
        url, pages = page.json().get("@odata.nextLink"), pages + 1
    assert names == ["E-mail Router", "Bert Brown", "Alice Archer"] and pages == 2


def test_expand_filter_and_lookup_annotations(
    api: tuple[requests.Session, str], embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    session, base = api
    email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com", regarding=crm_org.fabrikam)
    query = (
        f"emails?$filter=_regardingobjectid_value eq {crm_org.fabrikam.id}&$count=true"
        "&$select=subject,_regardingobjectid_value&$expand=email_activity_parties($select=addressused,"
        "_partyid_value;$filter=participationtypemask eq 2)"
    )
    body = session.get(base + query, headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert body["@odata.count"] == 1
    row = body["value"][0]
    assert row["activityid"] == email_id and row["_regardingobjectid_value"] == crm_org.fabrikam.id
    assert row["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_regardingobjectid_value@OData.Community.Display.V1.FormattedValue"] == "Fabrikam"
    assert [(p["addressused"], p["_partyid_value"]) for p in row["email_activity_parties"]] == [
        ("carol@fabrikam.com", crm_org.carol.id)
    ]


def test_a_stale_etag_is_a_precondition_failure(
    api: tuple[requests.Session, str], embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    session, base = api
    email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com")
    etag = session.get(base + f"emails({email_id})?$select=subject").json()["@odata.etag"]
    assert session.patch(base + f"emails({email_id})", json={"subject": "v2"}, headers={"If-Match": etag}).ok
    stale = session.patch(base + f"emails({email_id})", json={"subject": "v3"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "0x80060882"
    assert embedded_crm.email(email_id).row["subject"] == "v2"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"statecode": 0, "statuscode": 3}, "does not have valid status code"),
        ({"nosuch": 1}, "does not exist"),
        ({"_regardingobjectid_value": "x"}, "read-only"),
        ({"createdon": "2026-01-01T00:00:00Z"}, "cannot be set"),
        (
            {"regardingobjectid_contact_email@odata.bind": "/accounts(0f0e0d0c-0b0a-0908-0706-050403020100)"},
            "must reference a contact",
        ),
    ],
)
def test_bad_updates_are_refused_by_name(
    api: tuple[requests.Session, str],
    embedded_crm: EmbeddedCrm,
    crm_org: Organisation,
    body: dict[str, object],
    fragment: str,
) -> None:
    session, base = api
    email_id = draft_email(embedded_crm, crm_org.alice, "carol@fabrikam.com")
    response = session.patch(base + f"emails({email_id})", json=body)
    assert response.status_code == 400 and fragment in response.json()["error"]["message"]


def test_creating_an_email_with_parties_then_sending_it(
    api: tuple[requests.Session, str], embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    session, base = api
    created = session.post(
        base + "emails",
        headers={"Prefer": "return=representation"},
        json={
            "subject": "Created over OData",
            "description": "<p>Hi</p>",
            "regardingobjectid_contact_email@odata.bind": f"/contacts({crm_org.carol.id})",
            "email_activity_parties": [
                {
                    "participationtypemask": 1,
                    "partyid_systemuser@odata.bind": f"/systemusers({crm_org.alice.id})",
                },
                {"participationtypemask": 2, "partyid_contact@odata.bind": f"/contacts({crm_org.carol.id})"},
                {"participationtypemask": 3, "addressused": "someone@example.org"},
            ],
        },
    )
    assert created.status_code == 201 and created.json()["statuscode"] == 1
    email_id = created.json()["activityid"]
    attached = session.post(
        base + "activitymimeattachments",
        json={
            "objectid_email@odata.bind": f"/emails({email_id})",
            "filename": "a.txt",
            "mimetype": "text/plain",
            "body": "aGVsbG8=",
        },
    )
    assert attached.status_code == 204 and "activitymimeattachments(" in attached.headers["OData-EntityId"]
    sent = session.post(
        base + f"emails({email_id})/Microsoft.Dynamics.CRM.SendEmail", json={"IssueSend": True}
    )
    assert sent.json()["Subject"] == "Created over OData CRM:0002001"  # Alice is user 2
    view = embedded_crm.email(email_id)
    assert (
        view.row["statuscode"] == 6 and view.regarding == crm_org.carol and view.row["attachmentcount"] == 1
    )
    assert [p.address for _, p in view.parties] == [
        "alice@contoso.com",
        "carol@fabrikam.com",
        "someone@example.org",
    ]
    attachment_id = view.attachments[0]["activitymimeattachmentid"]
    assert session.get(base + f"activitymimeattachments({attachment_id})/body/$value").text == "aGVsbG8="


def test_a_sender_that_is_no_user_or_queue_is_an_invalid_sender_party(
    api: tuple[requests.Session, str],
) -> None:
    session, base = api
    response = session.post(
        base + "emails",
        json={
            "subject": "x",
            "email_activity_parties": [{"participationtypemask": 1, "addressused": "someone@example.org"}],
        },
    )
    assert response.status_code == 400 and "Invalid sender party" in response.json()["error"]["message"]


def test_version_8_0_answers_creates_without_representation(
    crm_facade: CrmFacade, crm_org: Organisation
) -> None:
    with requests.Session() as session:
        session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
        old = session.post(
            crm_facade.api_url("8.0") + "contacts",
            json={"fullname": "Eve", "emailaddress1": "eve@example.org"},
            headers={"Prefer": "return=representation"},
        )
        new = session.post(
            crm_facade.api_url("9.0") + "contacts",
            json={"fullname": "Fay"},
            headers={"Prefer": "return=representation"},
        )
        unknown = session.get(crm_facade.api_url("7.0") + "contacts")
    assert old.status_code == 204 and old.headers["OData-EntityId"].startswith(
        crm_facade.api_url("8.0") + "contacts("
    )
    assert new.status_code == 201 and new.json()["fullname"] == "Fay"
    assert unknown.status_code == 404


def test_a_body_over_the_limit_is_refused_with_413(embedded_crm: EmbeddedCrm, crm_org: Organisation) -> None:
    credentials = FacadeCredentials(ntlm_accounts={SERVICE_ACCOUNT: SecretStr(SERVICE_PASSWORD)})
    with (
        CrmFacade(embedded_crm, credentials=credentials, max_request_bytes=1000) as facade,
        requests.Session() as session,
    ):
        session.auth = HttpNtlmAuth(SERVICE_ACCOUNT, SERVICE_PASSWORD)
        response = session.post(facade.api_url() + "contacts", json={"fullname": "x" * 5000})
        after = session.get(facade.api_url() + "WhoAmI()")
    assert response.status_code == 413 and response.json()["error"]["code"] == "0x8004f8b8"
    assert after.status_code == 200


def test_anonymous_mode_serves_as_the_configured_user(
    embedded_crm: EmbeddedCrm, crm_org: Organisation
) -> None:
    with CrmFacade(
        embedded_crm, credentials=FacadeCredentials(anonymous_principal=SERVICE_ACCOUNT)
    ) as facade:
        response = requests.get(facade.api_url() + "WhoAmI()", timeout=10)
    assert response.status_code == 200 and response.json()["UserId"] == crm_org.service.id


def test_the_token_endpoint_refuses_bad_clients_and_grants(crm_facade: CrmFacade) -> None:
    from tests.support.crm import OAUTH_CLIENT_ID, OAUTH_SECRET

    bad_secret = requests.post(
        crm_facade.token_url,
        data={"grant_type": "client_credentials", "client_id": OAUTH_CLIENT_ID, "client_secret": "x"},
    )
    bad_grant = requests.post(
        crm_facade.token_url,
        data={"grant_type": "implicit", "client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_SECRET},
    )
    bad_user = requests.post(
        crm_facade.token_url,
        auth=(OAUTH_CLIENT_ID, OAUTH_SECRET),
        data={"grant_type": "password", "username": SERVICE_ACCOUNT, "password": "nope"},
    )
    good_user = requests.post(
        crm_facade.token_url,
        auth=(OAUTH_CLIENT_ID, OAUTH_SECRET),
        data={"grant_type": "password", "username": SERVICE_ACCOUNT, "password": SERVICE_PASSWORD},
    )
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")
    assert (bad_grant.status_code, bad_grant.json()["error"]) == (400, "unsupported_grant_type")
    assert (bad_user.status_code, bad_user.json()["error"]) == (400, "invalid_grant")
    token = good_user.json()["access_token"]
    who = requests.get(crm_facade.api_url() + "WhoAmI()", headers={"Authorization": f"Bearer {token}"})
    forged = requests.get(crm_facade.api_url() + "WhoAmI()", headers={"Authorization": "Bearer forged"})
    assert who.status_code == 200 and forged.status_code == 401


def test_customer_records_can_be_created_and_deleted(
    api: tuple[requests.Session, str], embedded_crm: EmbeddedCrm
) -> None:
    session, base = api
    created = session.post(base + "leads", json={"fullname": "Gil", "emailaddress1": "gil@example.org"})
    location = created.headers["OData-EntityId"]
    assert embedded_crm.resolve("gil@example.org") is not None
    assert session.delete(location).status_code == 204
    assert embedded_crm.resolve("gil@example.org") is None
    refused = session.post(base + "leads", json={"fullname": "Hal", "emailaddress1": "not-an-address"})
    assert refused.status_code == 400 and "not a valid e-mail address" in refused.json()["error"]["message"]
