"""``DynamicsGateway``: the ``CrmGateway`` contract over the Dynamics 365 / CRM 2016 on-premises Web API.

Every message is called exactly as the real ``$metadata`` declares it (dynamics-webapi.md §4):
CheckIncomingEmail is a GET function with parameter aliases, DeliverIncomingEmail an action bound to
the ``emails`` collection, BackgroundSendEmail and GetTrackingTokenEmail unbound actions, SendEmail an
action bound to one e-mail. Status changes and attempt counts are PATCHes; a count is read with its ETag
and written with ``If-Match`` so two routers never lose an increment.

Whether the real BackgroundSendEmail moves the e-mails it returns to Sending is not documented, so the
adapter claims every returned e-mail still in Pending Send itself, with a PATCH conditional on the ETag
it read: a 412 means another worker claimed it first, and that e-mail is left to it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from router.clock import Clock, SystemClock
from router.crm.attempts import failure_note, status_after_failure
from router.crm.codes import CorrelationMethod, EmailStatus, Notification, ReasonCode
from router.crm.dynamics import batch, odata
from router.crm.dynamics.client import JsonObject, WebApiClient
from router.crm.dynamics.convert import LOOKUP_ANNOTATIONS, lookup, mailbox_info, outgoing_email
from router.crm.dynamics.query_expression import query_expression
from router.crm.dynamics.senders import SENDER, emails_of_senders
from router.crm.dynamics.settings import DynamicsSettings
from router.crm.gateway import (
    MAXIMUM_DELIVERY_ATTEMPTS,
    PENDING_STATUS_DELAY,
    SENDING_STATUS_DELAY,
    AttemptResult,
    CallerIdentity,
    CheckResult,
    CrmGateway,
    DeliverResult,
    IncomingAnswer,
    IncomingEmail,
    MailboxInfo,
    MailboxTestResult,
    OutgoingEmail,
    SendResult,
    SentEmail,
    mailbox_order,
)
from router.crm.incoming_batch import check_and_deliver_each
from router.crm.messages import IncomingMessage, incoming_message
from router.crm.outgoing_query import pending_send_query
from router.crm.updates import (
    CLEARED_MAILBOX_ERROR,
    attempt_values,
    claim_values,
    mailbox_error_values,
    mailbox_test_values,
    sent_values,
    status_values,
)
from router.errors import CrmConcurrencyError, CrmRecordNotFoundError

NAMESPACE = "Microsoft.Dynamics.CRM."
ANNOTATED = {"Prefer": f'odata.include-annotations="{LOOKUP_ANNOTATIONS}"'}
_EMAIL_COLUMNS = (
    "activityid,subject,description,statuscode,deliveryprioritycode,trackingtoken,deliveryattempts,"
    "sender,_sendermailboxid_value,_regardingobjectid_value,_parentactivityid_value"
)
_CONCURRENCY_ATTEMPTS = 5


def _json_values(values: dict[str, object]) -> dict[str, object]:
    return {k: odata.timestamp(v) if isinstance(v, datetime) else v for k, v in values.items()}


class DynamicsGateway:
    """The contract over one organisation's Web API."""

    def __init__(self, settings: DynamicsSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.client = WebApiClient(settings, self.clock)

    def close(self) -> None:
        self.client.close()

    def who_am_i(self) -> CallerIdentity:
        body = self.client.get("WhoAmI()")
        return CallerIdentity(str(body["UserId"]), str(body["BusinessUnitId"]), str(body["OrganizationId"]))

    # Incoming ---------------------------------------------------------------------------------------

    def check_incoming(self, email: IncomingEmail) -> CheckResult:
        msg = incoming_message(email)
        call = odata.function_call(
            "CheckIncomingEmail", {**_envelope(msg), "ExtraProperties": _extra_properties(msg)}
        )
        body = batch.get(self.client, call)  # in a $batch when the URL would pass IIS's limits
        return CheckResult(bool(body["ShouldDeliver"]), ReasonCode(int(body["ReasonCode"])))

    def deliver_incoming(self, email: IncomingEmail) -> DeliverResult:
        msg = incoming_message(email)
        existed = self._find_by_message_id(msg.message_id)
        created = self.client.post(f"emails/{NAMESPACE}DeliverIncomingEmail", _deliver_body(msg))
        email_id = odata.guid(str(created.get("activityid")), "e-mail id returned by DeliverIncomingEmail")
        row = self.client.get(
            f"emails({email_id})?$select=correlationmethod,notifications,"
            "_regardingobjectid_value,_parentactivityid_value",
            headers=ANNOTATED,
        )
        parent = row.get("_parentactivityid_value")
        return DeliverResult(
            email_id=email_id,
            created_new=existed is None,
            correlation_method=CorrelationMethod(int(row.get("correlationmethod") or 0)),
            regarding=lookup(row, "regardingobjectid"),
            parent_email_id=str(parent) if parent else None,
            notifications=Notification(int(row.get("notifications") or 0)),
        )

    def check_and_deliver_incoming(self, emails: Sequence[IncomingEmail]) -> tuple[IncomingAnswer, ...]:
        # One message after the other: the Web API's CheckIncomingEmail is a GET function, which an
        # OData $batch changeset cannot hold, and its DeliverIncomingEmail already decides per message.
        return check_and_deliver_each(emails, self.check_incoming, self.deliver_incoming)

    def _find_by_message_id(self, message_id: str) -> str | None:
        query = odata.query_string(
            {"$select": "activityid", "$filter": f"messageid eq {odata.string(message_id)}", "$top": "1"}
        )
        found = self.client.get(f"emails?{query}").get("value") or []
        return str(found[0]["activityid"]) if found else None

    # Outgoing ---------------------------------------------------------------------------------------

    def background_send(
        self,
        mailbox_ids: Sequence[str],
        max_count: int,
        *,
        pending_status_delay: timedelta = PENDING_STATUS_DELAY,
    ) -> tuple[OutgoingEmail, ...]:
        if not mailbox_ids or max_count <= 0:
            return ()
        criteria = pending_send_query(
            [odata.guid(m, "mailbox id") for m in mailbox_ids], self.clock.now() - pending_status_delay
        )
        answer = self.client.post(
            "BackgroundSendEmail", {"Query": query_expression("email", criteria, max_count)}
        )
        returned = (answer.get("EntityCollection") or [])[:max_count]
        claimed = [i for i in (self._claim(e) for e in returned) if i]
        return tuple(self._outgoing(email_id) for email_id in claimed)

    def _claim(self, entity: JsonObject) -> str | None:
        email_id = odata.guid(str(entity.get("activityid")), "e-mail id returned by BackgroundSendEmail")
        status = int(entity.get("statuscode") or 0)
        if status == EmailStatus.SENDING:
            return email_id
        if status != EmailStatus.PENDING_SEND:
            return None
        etag = (
            entity.get("@odata.etag")
            or self.client.get(f"emails({email_id})?$select=statuscode")["@odata.etag"]
        )
        try:
            self.client.patch(
                f"emails({email_id})", _json_values(claim_values(self.clock.now())), etag=str(etag)
            )
        except (CrmConcurrencyError, CrmRecordNotFoundError):
            return None
        return email_id

    def _outgoing(self, email_id: str) -> OutgoingEmail:
        expand = (
            "email_activity_parties($select=participationtypemask,addressused,_partyid_value),"
            "email_activity_mime_attachment($select=filename,mimetype,body,attachmentcontentid)"
        )
        query = odata.query_string({"$select": _EMAIL_COLUMNS, "$expand": expand})
        entity = self.client.get(f"emails({email_id})?{query}", headers=ANNOTATED)
        parent_id = entity.get("_parentactivityid_value")
        parent = (
            self.client.get(f"emails({odata.guid(str(parent_id))})?$select=messageid,inreplyto,conversationindex")
            if parent_id
            else None
        )
        return outgoing_email(entity, parent)

    def mark_sent(self, email_id: str, message_id: str, sent_on: datetime) -> None:
        self.client.patch(f"emails({odata.guid(email_id)})", _json_values(sent_values(message_id, sent_on)))

    def mark_sent_many(self, sent: Sequence[SentEmail]) -> None:
        # One PATCH per e-mail, in order, exactly as ``mark_sent`` makes it.
        for email in sent:
            self.mark_sent(email.email_id, email.message_id, email.sent_on)

    def record_failed_attempt(
        self, email_id: str, reason: str, *, permanent: bool, max_attempts: int = MAXIMUM_DELIVERY_ATTEMPTS
    ) -> AttemptResult:
        key = odata.guid(email_id)
        for _ in range(_CONCURRENCY_ATTEMPTS):
            row = self.client.get(f"emails({key})?$select=deliveryattempts")
            attempts = int(row.get("deliveryattempts") or 0) + 1
            status = status_after_failure(attempts, permanent=permanent, max_attempts=max_attempts)
            try:
                self.client.patch(
                    f"emails({key})",
                    _json_values(attempt_values(attempts, status, self.clock.now())),
                    etag=str(row["@odata.etag"]),
                )
            except CrmConcurrencyError:
                continue
            subject, text = failure_note(attempts, status, reason)
            self.client.post(
                "annotations",
                {"objectid_email@odata.bind": f"/emails({key})", "subject": subject, "notetext": text},
            )
            return AttemptResult(key, attempts, status)
        raise CrmConcurrencyError(
            f"e-mail {key} kept changing while its failed attempt was recorded",
            item_id=key,
            hint="retry later",
        )

    def pending_send_mailboxes(
        self, mailbox_ids: Sequence[str], *, pending_status_delay: timedelta = PENDING_STATUS_DELAY
    ) -> frozenset[str]:
        cutoff = odata.timestamp(self.clock.now() - pending_status_delay)
        condition = (
            f"statuscode eq {int(EmailStatus.PENDING_SEND)} and directioncode eq true and "
            f"(deliverylastattemptedon eq null or deliverylastattemptedon lt {cutoff})"
        )
        rows = emails_of_senders(self.client, condition, mailbox_ids, "activityid")
        return frozenset(str(row[SENDER]).lower() for row in rows)

    def release_stuck_sending(
        self, mailbox_ids: Sequence[str], sending_status_delay: timedelta = SENDING_STATUS_DELAY
    ) -> tuple[str, ...]:
        if not mailbox_ids:
            return ()
        cutoff = odata.timestamp(self.clock.now() - sending_status_delay)
        condition = (
            f"statuscode eq {int(EmailStatus.SENDING)} and "
            f"(deliverylastattemptedon eq null or deliverylastattemptedon lt {cutoff})"
        )
        stuck = emails_of_senders(self.client, condition, mailbox_ids, "activityid")
        released = []
        for row in stuck:
            try:
                self.client.patch(
                    f"emails({row['activityid']})",
                    status_values(EmailStatus.PENDING_SEND),
                    etag=str(row["@odata.etag"]),
                )
            except (CrmConcurrencyError, CrmRecordNotFoundError):
                continue
            released.append(str(row["activityid"]))
        return tuple(released)

    def send_email(
        self, email_id: str, *, tracking_token: str | None = None, issue_send: bool = True
    ) -> SendResult:
        key = odata.guid(email_id)
        answer = self.client.post(
            f"emails({key})/{NAMESPACE}SendEmail",
            {"IssueSend": issue_send, "TrackingToken": tracking_token or ""},
        )
        row = self.client.get(f"emails({key})?$select=trackingtoken,statuscode")
        return SendResult(
            key,
            str(answer.get("Subject") or ""),
            str(row.get("trackingtoken") or ""),
            EmailStatus(int(row["statuscode"])),
        )

    def get_tracking_token(self, subject: str = "") -> str:
        return str(self.client.post("GetTrackingTokenEmail", {"Subject": subject})["TrackingToken"])

    # Mailboxes --------------------------------------------------------------------------------------

    def load_data(self) -> tuple[MailboxInfo, ...]:
        org = (
            self.client.get(
                "organizations?$select=requireapprovalforuseremail,requireapprovalforqueueemail"
            ).get("value")
            or [{}]
        )[0]
        users = {
            str(u["systemuserid"]): str(u.get("fullname") or "")
            for u in self.client.get_all(
                "systemusers?"
                + odata.query_string({"$select": "systemuserid,fullname", "$filter": "isdisabled eq false"})
            )
        }
        user_filters = {
            str(s["systemuserid"]): int(s.get("incomingemailfilteringmethod") or 0)
            for s in self.client.get_all(
                "usersettingscollection?$select=systemuserid,incomingemailfilteringmethod"
            )
        }
        queues = {
            str(q["queueid"]): q
            for q in self.client.get_all(
                "queues?"
                + odata.query_string(
                    {"$select": "queueid,name,incomingemailfilteringmethod", "$filter": "statecode eq 0"}
                )
            )
        }
        found = [self._mailbox(b, users, user_filters, queues, org) for b in self._routed_mailboxes()]
        return tuple(sorted((m for m in found if m is not None), key=mailbox_order))

    def _routed_mailboxes(self) -> list[JsonObject]:
        routed = (
            "statecode eq 0 and (incomingemaildeliverymethod eq 2 or incomingemaildeliverymethod eq 3 "
            "or outgoingemaildeliverymethod eq 2)"
        )
        columns = (
            "mailboxid,name,emailaddress,_regardingobjectid_value,incomingemaildeliverymethod,"
            "outgoingemaildeliverymethod,emailrouteraccessapproval,incomingemailstatus,outgoingemailstatus,"
            "enabledforincomingemail,enabledforoutgoingemail,isforwardmailbox,processemailreceivedafter"
        )
        return self.client.get_all(
            "mailboxes?" + odata.query_string({"$select": columns, "$filter": routed}),
            annotations=LOOKUP_ANNOTATIONS,
        )

    @staticmethod
    def _mailbox(
        box: JsonObject,
        users: dict[str, str],
        user_filters: dict[str, int],
        queues: dict[str, JsonObject],
        org: JsonObject,
    ) -> MailboxInfo | None:
        owner = str(box.get("_regardingobjectid_value") or "")
        if owner in users:
            return mailbox_info(
                box, users[owner], user_filters.get(owner, 2), bool(org.get("requireapprovalforuseremail"))
            )
        if owner in queues:
            queue = queues[owner]
            return mailbox_info(
                box,
                str(queue.get("name") or ""),
                int(queue.get("incomingemailfilteringmethod") or 0),
                bool(org.get("requireapprovalforqueueemail")),
            )
        return None

    def record_mailbox_test(self, result: MailboxTestResult) -> None:
        self.client.patch(
            f"mailboxes({odata.guid(result.mailbox_id)})", _json_values(mailbox_test_values(result))
        )

    def record_mailbox_tests(self, results: Sequence[MailboxTestResult]) -> None:
        # The PATCHes ``record_mailbox_test`` makes, as the parts of one $batch: at 10,000 mailboxes
        # one HTTP request per mailbox was most of the router's CPU while first results were written.
        if len(results) == 1:
            self.record_mailbox_test(results[0])
        elif results:
            batch.patch_all(self.client, [(f"mailboxes({odata.guid(result.mailbox_id)})",
                                           _json_values(mailbox_test_values(result))) for result in results])

    def record_mailbox_error(
        self, mailbox_id: str, message: str, *, occurred_on: datetime, code: int | None = None
    ) -> None:
        key = odata.guid(mailbox_id, "mailbox id")
        for _ in range(_CONCURRENCY_ATTEMPTS):
            row = self.client.get(f"mailboxes({key})?$select=lastsyncerrorcount")
            count = int(row.get("lastsyncerrorcount") or 0) + 1
            try:
                self.client.patch(
                    f"mailboxes({key})",
                    _json_values(mailbox_error_values(message, code, occurred_on, count)),
                    etag=str(row["@odata.etag"]),
                )
            except CrmConcurrencyError:
                continue
            return
        raise CrmConcurrencyError(
            f"mailbox {key} kept changing while its error was recorded", hint="retry later"
        )

    def clear_mailbox_error(self, mailbox_id: str) -> None:
        self.client.patch(f"mailboxes({odata.guid(mailbox_id, 'mailbox id')})", CLEARED_MAILBOX_ERROR)


def _extra_properties(msg: IncomingMessage) -> dict[str, object] | None:
    extra: dict[str, object] = {"@odata.type": f"{NAMESPACE}email"}
    if msg.in_reply_to:
        extra["inreplyto"] = msg.in_reply_to
    if msg.conversation_index:
        extra["conversationindex"] = msg.conversation_index
    return extra if len(extra) > 1 else None


def _envelope(msg: IncomingMessage) -> dict[str, Any]:
    """The parameters CheckIncomingEmail and DeliverIncomingEmail both take: who, to whom, what."""
    return {
        "MessageId": msg.message_id,
        "Subject": msg.subject,
        "From": msg.sender,
        "To": msg.to,
        "Cc": msg.cc,
        "Bcc": msg.bcc,
    }


def _deliver_body(msg: IncomingMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        **_envelope(msg),
        "ReceivedOn": odata.timestamp(msg.received_on),
        "SubmittedBy": msg.submitted_by,
        "Importance": str(int(msg.importance)),
        "Body": msg.body,
        "Attachments": [
            {
                "filename": a.filename,
                "mimetype": a.mime_type,
                "body": base64.b64encode(a.content).decode("ascii"),
                "attachmentcontentid": a.content_id,
            }
            for a in msg.attachments
        ],
        "ValidateBeforeCreate": False,
    }
    extra = _extra_properties(msg)
    if extra is not None:
        body["ExtraProperties"] = extra
    return body


if TYPE_CHECKING:
    # mypy proves here that the class satisfies the contract.
    _CONFORMS: type[CrmGateway] = DynamicsGateway
