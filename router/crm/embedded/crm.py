"""``EmbeddedCrm``: the embedded CRM as a whole — one SQLite file and the SDK messages over it.

Every method runs in one transaction. The message methods take the caller's ``principal`` (a domain name
such as ``CONTOSO\\svc-router``, or an application id for OAuth clients); the CRM serves only enabled
users, as Dynamics does, and rejects anybody else with a permanent error. ``principal=None`` is the local
administrator (the ``email-router crm`` CLI), who needs no user record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, false, func, or_, select

from router.clock import Clock, SystemClock
from router.crm.attempts import failure_note, status_after_failure
from router.crm.codes import Approval, EmailStatus, ErrorCode, FilteringMethod
from router.crm.embedded import (
    admin,
    database,
    delivery,
    fences,
    incoming,
    journal,
    mailboxes,
    outgoing,
    records,
    rows,
    tracking,
)
from router.crm.embedded import organization as orgmod
from router.crm.embedded.filtering import decide
from router.crm.embedded.notes import add_note
from router.crm.embedded.schema import email, systemuser
from router.crm.embedded.views import EmailView, email_view, email_views
from router.crm.gateway import (
    AttemptResult,
    CallerIdentity,
    CheckResult,
    IncomingAnswer,
    MailboxInfo,
    MailboxTestResult,
    RecordRef,
    SendResult,
    SentEmail,
)
from router.crm.messages import IncomingMessage
from router.crm.query import Node
from router.crm.updates import attempt_values, sent_values
from router.errors import CrmPermanentError
from router.state.fencing import LaneToken


class EmbeddedCrm:
    """The SQLite-backed CRM with Dynamics semantics. Thread-safe; ``close`` when done."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        max_description_length: int = delivery.DESCRIPTION_MAX,
        organization_name: str = orgmod.DEFAULT_NAME,
    ) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()
        self.max_description_length = max_description_length
        self.engine = database.open_engine(self.path)
        with self.writing() as conn:
            orgmod.ensure(conn, self.clock.now(), organization_name)

    def close(self) -> None:
        """Close every database connection."""
        self.engine.dispose()

    def __enter__(self) -> EmbeddedCrm:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction (holds the write lock from the start)."""
        with database.write(self.engine) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction."""
        with database.read(self.engine) as conn:
            yield conn

    def now(self) -> datetime:
        """The CRM's current time."""
        return self.clock.now()

    # Organisation and administration -----------------------------------------------------------------

    def organization(self) -> orgmod.OrgSettings:
        """The organisation's e-mail settings."""
        with self.reading() as conn:
            return orgmod.load(conn)

    def update_organization(self, **changes: Any) -> orgmod.OrgSettings:
        """Change organisation settings given by their Dynamics column names."""
        with self.writing() as conn:
            return orgmod.update(conn, self.now(), changes)

    def add_user(
        self,
        fullname: str,
        address: str,
        domainname: str,
        *,
        settings: admin.MailboxSettings = admin.DEFAULT_MAILBOX,
        application_id: str | None = None,
    ) -> RecordRef:
        """Create a user (with user settings and a default mailbox)."""
        with self.writing() as conn:
            return admin.add_user(
                conn,
                self.now(),
                fullname=fullname,
                address=address,
                domainname=domainname,
                settings=settings,
                application_id=application_id,
            )

    def add_queue(
        self, name: str, address: str, *, settings: admin.MailboxSettings = admin.DEFAULT_MAILBOX
    ) -> RecordRef:
        """Create a queue with a default mailbox."""
        with self.writing() as conn:
            return admin.add_queue(conn, self.now(), name=name, address=address, settings=settings)

    def add_customer(
        self, logical_name: str, name: str, address: str, company: str | None = None
    ) -> RecordRef:
        """Create a contact, account or lead."""
        with self.writing() as conn:
            return admin.add_customer(
                conn, self.now(), logical_name, name=name, address=address, company=company
            )

    def set_mailbox(self, key: str, **values: int | bool) -> RowMapping:
        """Change a mailbox (by id or address): approval, delivery methods, ..."""
        with self.writing() as conn:
            return admin.set_mailbox(conn, self.now(), key, **values)

    def approve_mailbox(self, key: str, approval: Approval = Approval.APPROVED) -> RowMapping:
        """Approve Email (or reject / reset) for the mailbox ``key`` (id or address)."""
        return self.set_mailbox(key, emailrouteraccessapproval=int(approval))

    def set_filtering(self, owner: RecordRef, method: FilteringMethod) -> None:
        """Set a user's or queue's incoming e-mail filtering method."""
        with self.writing() as conn:
            admin.set_filtering(conn, self.now(), owner, method)

    def set_user_disabled(self, user_id: str, disabled: bool = True) -> None:
        """Disable (or re-enable) a user."""
        with self.writing() as conn:
            admin.set_user_disabled(conn, self.now(), user_id, disabled)

    def resolve(self, address: str) -> RecordRef | None:
        """The record an e-mail address resolves to (user, contact, account, lead, queue), if any."""
        with self.reading() as conn:
            return records.resolve_address(conn, address)

    def find_user(self, key: str) -> RecordRef | None:
        """A user, enabled or disabled, by e-mail address or domain name."""
        wanted = key.strip().lower()
        with self.reading() as conn:
            row = conn.execute(
                select(systemuser.c.systemuserid, systemuser.c.fullname).where(
                    or_(
                        func.lower(systemuser.c.internalemailaddress) == wanted,
                        func.lower(systemuser.c.domainname) == wanted,
                    )
                )
            ).first()
        return RecordRef("systemuser", row[0], row[1]) if row else None

    def create_draft(self, draft: outgoing.Draft, principal: str | None = None) -> str:
        """Compose a Draft e-mail; return its id."""
        with self.writing() as conn:
            caller = self.authorize(conn, principal)
            return outgoing.create_draft(conn, self.now(), draft, caller)

    # Caller -------------------------------------------------------------------------------------------

    def authorize(self, conn: Connection, principal: str | None) -> str | None:
        """Return the id of the enabled user ``principal`` names (None for the local admin), or refuse."""
        if principal is None:
            return None
        key = principal.strip().lower()
        user = conn.execute(
            select(systemuser.c.systemuserid).where(
                or_(
                    func.lower(systemuser.c.domainname) == key, func.lower(systemuser.c.applicationid) == key
                ),
                systemuser.c.isdisabled == false(),
            )
        ).scalar()
        if user is None:
            raise CrmPermanentError(
                f"the CRM rejected the caller {principal!r}: "
                "no enabled user has this domain name or application id",
                code=ErrorCode.PRIVILEGE_DENIED,
                hint="add the router's service account as a CRM user (`email-router crm user add`) "
                "or fix the CRM credentials in the deployment",
            )
        return str(user)

    def who_am_i(self, principal: str | None) -> CallerIdentity:
        """WhoAmI for ``principal``."""
        with self.reading() as conn:
            user_id = self.authorize(conn, principal) or ""
            org = orgmod.load(conn)
            return CallerIdentity(user_id, org.business_unit_id, org.organization_id)

    # Incoming -----------------------------------------------------------------------------------------

    def check_incoming_email(
        self, principal: str | None, msg: IncomingMessage, *, fence: LaneToken | None = None
    ) -> CheckResult:
        """CheckIncomingEmail; a stale ``fence`` is refused (see ``fences``)."""
        with self.reading() as conn:
            self.authorize(conn, principal)
            decision = decide(conn, orgmod.load(conn), msg)
        with self.writing() as conn:
            fences.admit(conn, fence)
            outcome = journal.Outcome.DELIVER if decision.should_deliver else journal.Outcome.SKIP
            journal.record(conn, self.now(), journal.CHECK, msg.message_id, outcome, fence=fence)
        return CheckResult(decision.should_deliver, decision.reason)

    def deliver_incoming_email(
        self,
        principal: str | None,
        msg: IncomingMessage,
        *,
        validate: bool = False,
        fence: LaneToken | None = None,
    ) -> delivery.Delivered:
        """DeliverIncomingEmail (idempotent by Message-ID); a stale ``fence`` is refused (see ``fences``)."""
        with self.writing() as conn:
            fences.admit(conn, fence)
            self.authorize(conn, principal)
            delivered = delivery.deliver(
                conn,
                orgmod.load(conn),
                self.now(),
                msg,
                max_description=self.max_description_length,
                validate=validate,
            )
            outcome = journal.Outcome.CREATED if delivered.created_new else journal.Outcome.EXISTING
            journal.record(
                conn, self.now(), journal.DELIVER, msg.message_id, outcome, delivered.email_id, fence=fence
            )
            return delivered

    def check_and_deliver_incoming_emails(
        self, principal: str | None, messages: Sequence[IncomingMessage], *, fence: LaneToken | None = None
    ) -> list[IncomingAnswer]:
        """CheckIncomingEmail, then DeliverIncomingEmail when wanted, for each message, in ONE write
        transaction (``incoming``); each call is journalled as if made alone."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            return incoming.check_and_deliver(
                conn, orgmod.load(conn), self.now, messages, max_description=self.max_description_length,
                fence=fence,
            )

    # Outgoing -----------------------------------------------------------------------------------------

    def background_send_email(self, principal: str | None, query: Node, top: int) -> list[str]:
        """BackgroundSendEmail: claim (move to Sending) the Pending Send e-mails matching ``query``."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            return outgoing.claim(conn, self.now(), query, top)

    def background_send_views(self, principal: str | None, query: Node, top: int) -> list[EmailView]:
        """BackgroundSendEmail with the claimed e-mails read back (without their notes), all in the claim's
        one transaction."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            claimed = outgoing.claim_rows(conn, self.now(), query, top)
            # The outgoing form of an e-mail (``outgoing_email``) does not carry its notes.
            return email_views(conn, [row["activityid"] for row in claimed], read=claimed, with_notes=False)

    def pending_senders(self, principal: str | None, query: Node) -> set[str]:
        """The sender mailboxes of the Pending Send e-mails matching ``query`` (nothing is claimed)."""
        with self.reading() as conn:
            self.authorize(conn, principal)
            return outgoing.pending_senders(conn, query)

    def send_email(
        self,
        principal: str | None,
        email_id: str,
        *,
        issue_send: bool = True,
        tracking_token: str | None = None,
    ) -> SendResult:
        """SendEmail bound to one e-mail."""
        with self.writing() as conn:
            caller = self.authorize(conn, principal)
            return outgoing.send(
                conn,
                orgmod.load(conn),
                self.now(),
                email_id,
                issue_send=issue_send,
                tracking_token=tracking_token,
                caller_id=caller,
            )

    def get_tracking_token_email(self, principal: str | None, subject: str = "") -> str:
        """GetTrackingTokenEmail: the caller's next tracking token (``subject`` does not change it)."""
        with self.writing() as conn:
            caller = self.authorize(conn, principal)
            return tracking.next_token(conn, orgmod.load(conn), caller)

    def mark_sent(self, principal: str | None, email_id: str, message_id: str, sent_on: datetime) -> None:
        """Record a successful send (the PATCH the legacy router made)."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            self._update_email(conn, email_id, sent_values(message_id, sent_on))

    def mark_sent_many(self, principal: str | None, sent: Sequence[SentEmail]) -> None:
        """``mark_sent`` of several e-mails in one transaction: all of them are Sent, or none."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            outgoing.mark_sent(conn, self.now(), sent)

    def record_failed_attempt(
        self, principal: str | None, email_id: str, reason: str, *, permanent: bool, max_attempts: int
    ) -> AttemptResult:
        """Count a failed attempt, set Pending Send or Failed, and note the reason on the e-mail."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            attempts = rows.require(conn, email, email_id)["deliveryattempts"] + 1
            status = status_after_failure(attempts, permanent=permanent, max_attempts=max_attempts)
            self._update_email(conn, email_id, attempt_values(attempts, status, self.now()))
            add_note(conn, self.now(), email_id, *failure_note(attempts, status, reason))
            return AttemptResult(email_id, attempts, status)

    def release_stuck_sending(
        self, principal: str | None, mailbox_ids: Sequence[str], cutoff: datetime
    ) -> list[str]:
        """Return e-mails Sending since before ``cutoff`` to Pending Send."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            return outgoing.release_stuck(conn, self.now(), mailbox_ids, cutoff)

    def update_email(
        self,
        principal: str | None,
        email_id: str,
        values: Mapping[str, object],
        *,
        if_version: int | None = None,
    ) -> int:
        """A plain update of an e-mail (PATCH), with Dynamics' statecode/statuscode check."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            return self._update_email(conn, email_id, dict(values), if_version=if_version)

    def _update_email(
        self, conn: Connection, email_id: str, values: dict[str, object], *, if_version: int | None = None
    ) -> int:
        outgoing.check_status_pair(values, email_id)
        return rows.update(conn, email, email_id, values, self.now(), if_version=if_version)

    # Mailboxes ----------------------------------------------------------------------------------------

    def load_mailboxes(self, principal: str | None = None) -> list[MailboxInfo]:
        """Load Data: the mailboxes that use the router."""
        with self.reading() as conn:
            self.authorize(conn, principal)
            return mailboxes.load(conn, orgmod.load(conn))

    def record_mailbox_test(self, principal: str | None, result: MailboxTestResult) -> None:
        """Write a Test Access result to its mailbox."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            mailboxes.record_test(conn, self.now(), result)

    def record_mailbox_tests(self, principal: str | None, results: Sequence[MailboxTestResult]) -> None:
        """Write Test Access results to their mailboxes in one transaction (all or none)."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            mailboxes.record_tests(conn, self.now(), results)

    def record_mailbox_error(
        self,
        principal: str | None,
        mailbox_id: str,
        message: str,
        occurred_on: datetime,
        code: int | None = None,
    ) -> None:
        """Write (and count) a mailbox's last error."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            mailboxes.record_error(conn, self.now(), mailbox_id, message, occurred_on, code)

    def clear_mailbox_error(self, principal: str | None, mailbox_id: str) -> None:
        """Clear a mailbox's last error."""
        with self.writing() as conn:
            self.authorize(conn, principal)
            mailboxes.clear_error(conn, self.now(), mailbox_id)

    # Reading ------------------------------------------------------------------------------------------

    def email(self, email_id: str) -> EmailView:
        """One e-mail with parties, attachments, notes, regarding and parent."""
        with self.reading() as conn:
            return email_view(conn, email_id)

    def emails(
        self, *, status: EmailStatus | None = None, incoming: bool | None = None, limit: int = 50
    ) -> list[RowMapping]:
        """The most recent e-mails, optionally of one status or direction."""
        stmt = select(email).order_by(email.c.createdon.desc(), rows.rowid(email).desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(email.c.statuscode == int(status))
        if incoming is not None:
            stmt = stmt.where(email.c.directioncode == (not incoming))
        with self.reading() as conn:
            return list(conn.execute(stmt).mappings())
