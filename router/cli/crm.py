"""``email-router crm``: administer and exercise the embedded CRM, as an admin or a tester would in Dynamics.

Create users, queues, contacts, accounts and leads; approve mailboxes; compose an e-mail and send it (it
goes to Pending Send, for the router to pick up); list activities with their status; show one activity
with its parties, correlation and regarding record. ``--db`` picks the CRM file (default: the home
directory's ``crm.sqlite``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

import click
import lxml.etree
import lxml.html

from router.cli.homes import crm_database
from router.cli.simulate_crm import crm as serve_command
from router.crm.codes import (
    Approval,
    CorrelationMethod,
    EmailStatus,
    FilteringMethod,
    Importance,
    IncomingDeliveryMethod,
    Notification,
    OutgoingDeliveryMethod,
)
from router.crm.embedded import Draft, EmbeddedCrm, MailboxSettings
from router.crm.gateway import Attachment, RecordRef
from router.errors import UsageError

FILTERS = {
    "all": FilteringMethod.ALL,
    "responses": FilteringMethod.RESPONSES,
    "customers": FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS,
    "email-enabled": FilteringMethod.FROM_EMAIL_ENABLED_RECORDS,
    "none": FilteringMethod.NONE,
}
INCOMING = {
    "router": IncomingDeliveryMethod.ROUTER,
    "forward": IncomingDeliveryMethod.FORWARD_MAILBOX,
    "outlook": IncomingDeliveryMethod.OUTLOOK,
    "none": IncomingDeliveryMethod.NONE,
}
OUTGOING = {
    "router": OutgoingDeliveryMethod.ROUTER,
    "outlook": OutgoingDeliveryMethod.OUTLOOK,
    "none": OutgoingDeliveryMethod.NONE,
}
STATUSES = {s.label.lower().replace(" ", "-"): s for s in EmailStatus}


def open_crm(ctx: click.Context) -> EmbeddedCrm:
    """The embedded CRM of this invocation, opened once and closed when the command ends."""
    root = ctx.find_root()
    if "crm" not in root.meta:
        root.meta["crm"] = root.with_resource(EmbeddedCrm(crm_database(ctx)))
    crm: EmbeddedCrm = root.meta["crm"]
    return crm


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as aligned text columns under a header line."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


@click.group(name="crm", short_help="Administer and exercise the embedded CRM.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The embedded CRM database (default: crm.sqlite in the home directory).",
)
@click.pass_context
def crm_group(ctx: click.Context, db: str | None) -> None:
    """Administer and exercise the embedded CRM (users, queues, customers, mailboxes, e-mails)."""
    if db:
        ctx.find_root().meta["crm_db"] = db


def _settings(incoming: str, outgoing: str, approve: bool, filtering: str | None) -> MailboxSettings:
    return MailboxSettings(
        incoming=INCOMING[incoming],
        outgoing=OUTGOING[outgoing],
        approval=Approval.APPROVED if approve else Approval.EMPTY,
        filtering=FILTERS[filtering] if filtering else None,
    )


def _mailbox_options(default_filter: str) -> list[click.Option]:
    return [
        click.Option(
            ["--incoming"],
            type=click.Choice(list(INCOMING)),
            default="router",
            show_default=True,
            help="Incoming e-mail delivery method of the mailbox.",
        ),
        click.Option(
            ["--outgoing"],
            type=click.Choice(list(OUTGOING)),
            default="router",
            show_default=True,
            help="Outgoing e-mail delivery method of the mailbox.",
        ),
        click.Option(
            ["--filter", "filtering"],
            type=click.Choice(list(FILTERS)),
            default=default_filter,
            show_default=True,
            help="Which incoming e-mail the CRM tracks for this recipient.",
        ),
        click.Option(["--approve"], is_flag=True, help="Approve the mailbox's address for the router."),
    ]


ORG_OPTIONS = {
    "tracking_prefix": "trackingprefix",
    "token_base": "trackingtokenidbase",
    "user_digits": "trackingtokeniddigits",
    "counter_digits": "maximumtrackingnumber",
    "ignore_internal": "ignoreinternalemail",
    "approve_users": "requireapprovalforuseremail",
    "approve_queues": "requireapprovalforqueueemail",
    "max_upload_size": "maxuploadfilesize",
    "allow_unresolved": "allowunresolvedpartiesonemailsend",
    "correlation": "emailcorrelationenabled",
    "min_common_addresses": "hashminaddresscount",
}


@crm_group.command("org", short_help="Show or change the organisation's e-mail settings.")
@click.option("--tracking-prefix", default=None, help="Tracking token prefix (1-20 characters), e.g. CRM:.")
@click.option("--token-base", type=int, default=None, help="Deployment base tracking number.")
@click.option("--user-digits", type=int, default=None, help="Digits of the user number (1-9).")
@click.option("--counter-digits", type=int, default=None, help="Digits of the message counter (1-9).")
@click.option("--ignore-internal/--track-internal", default=None, help="Reject mail between CRM users.")
@click.option("--approve-users/--no-approve-users", default=None, help="User mailboxes need approval.")
@click.option("--approve-queues/--no-approve-queues", default=None, help="Queue mailboxes need approval.")
@click.option("--max-upload-size", type=int, default=None, help="Largest attachment kept, in bytes.")
@click.option("--allow-unresolved/--no-allow-unresolved", default=None, help="Allow unresolved recipients.")
@click.option("--correlation/--no-correlation", default=None, help="Conversation index and smart matching.")
@click.option("--min-common-addresses", type=int, default=None, help="Smart matching: addresses in common.")
@click.pass_context
def org(ctx: click.Context, /, **options: object) -> None:
    """Show the organisation's e-mail settings, changing those given first."""
    crm = open_crm(ctx)
    changes = {ORG_OPTIONS[k]: v for k, v in options.items() if v is not None}
    settings = crm.update_organization(**changes) if changes else crm.organization()
    for name, value in vars(settings).items():
        click.echo(f"{name:24} {value}")


@crm_group.group()
def user() -> None:
    """CRM users (systemuser) and their mailboxes."""


@user.command("add")
@click.argument("name")
@click.option("--email", "address", required=True, help="The user's primary e-mail address.")
@click.option("--domain-name", required=True, help="The Windows account, e.g. CONTOSO\\alice.")
@click.option("--application-id", default=None, help="The OAuth client id, for an application user.")
@click.pass_context
def user_add(
    ctx: click.Context,
    name: str,
    address: str,
    domain_name: str,
    application_id: str | None,
    incoming: str,
    outgoing: str,
    filtering: str,
    approve: bool,
) -> None:
    """Add a user NAME with a mailbox."""
    ref = open_crm(ctx).add_user(
        name,
        address,
        domain_name,
        application_id=application_id,
        settings=_settings(incoming, outgoing, approve, filtering),
    )
    click.echo(f"user {ref.name} <{address}> created: {ref.id}")


user_add.params.extend(_mailbox_options("customers"))


@user.command("disable", short_help="Disable (or re-enable) a user.")
@click.argument("address")
@click.option("--enable", is_flag=True, help="Re-enable the user instead.")
@click.pass_context
def user_disable(ctx: click.Context, address: str, enable: bool) -> None:
    """Disable (or re-enable) the user with e-mail ADDRESS (or domain name)."""
    crm = open_crm(ctx)
    ref = crm.find_user(address)
    if ref is None:
        raise UsageError(
            f"no user has the e-mail address or domain name {address!r}",
            hint="check the address, or add the user with `email-router crm user add`",
        )
    crm.set_user_disabled(ref.id, not enable)
    click.echo(f"user {ref.name} {'enabled' if enable else 'disabled'}")


@crm_group.group()
def queue() -> None:
    """Queues and their mailboxes."""


@queue.command("add")
@click.argument("name")
@click.option("--email", "address", required=True, help="The queue's e-mail address.")
@click.pass_context
def queue_add(
    ctx: click.Context, name: str, address: str, incoming: str, outgoing: str, filtering: str, approve: bool
) -> None:
    """Add a queue NAME with a mailbox."""
    ref = open_crm(ctx).add_queue(name, address, settings=_settings(incoming, outgoing, approve, filtering))
    click.echo(f"queue {ref.name} <{address}> created: {ref.id}")


queue_add.params.extend(_mailbox_options("all"))


def _customer_command(logical_name: str) -> click.Command:
    article = "an" if logical_name[0] in "aeiou" else "a"

    @click.command("add", help=f"Add {article} {logical_name} NAME with an e-mail address.")
    @click.argument("name")
    @click.option("--email", "address", required=True, help="The e-mail address.")
    @click.option("--company", default=None, help="Company name (leads).", hidden=logical_name != "lead")
    @click.pass_context
    def add(ctx: click.Context, name: str, address: str, company: str | None) -> None:
        ref = open_crm(ctx).add_customer(logical_name, name, address, company)
        click.echo(f"{logical_name} {ref.name} <{address}> created: {ref.id}")

    group = click.Group(logical_name, help=f"{logical_name.capitalize()} records.")
    group.add_command(add)
    return group


for _kind in ("contact", "account", "lead"):
    crm_group.add_command(_customer_command(_kind))


def _record(crm: EmbeddedCrm, address: str, kinds: Sequence[str]) -> RecordRef:
    ref = crm.resolve(address)
    if ref is None or ref.logical_name not in kinds:
        raise UsageError(
            f"no {' or '.join(kinds)} has the e-mail address {address!r}",
            hint="list them with `email-router crm mailboxes`, or add one first",
        )
    return ref


@crm_group.command("mailboxes", short_help="List the mailboxes that use the router (Load Data).")
@click.pass_context
def mailboxes(ctx: click.Context) -> None:
    """List the mailboxes that use the router (Load Data), with approval, filter and last error."""
    crm = open_crm(ctx)
    rows = [
        (
            m.address,
            m.owner_type.logical_name,
            m.incoming_method.name.lower(),
            m.outgoing_method.name.lower(),
            m.approval.name.lower(),
            m.filtering.name.lower(),
            m.incoming_status.name.lower(),
            m.outgoing_status.name.lower(),
            m.mailbox_id,
        )
        for m in crm.load_mailboxes()
    ]
    click.echo(
        table(["ADDRESS", "OWNER", "IN", "OUT", "APPROVAL", "FILTER", "IN-TEST", "OUT-TEST", "ID"], rows)
    )


@crm_group.group()
def mailbox() -> None:
    """One mailbox: approve, reject, change delivery methods."""


@mailbox.command("approve")
@click.argument("mailbox_key", metavar="ADDRESS_OR_ID")
@click.option("--reject", is_flag=True, help="Reject the address instead.")
@click.pass_context
def mailbox_approve(ctx: click.Context, mailbox_key: str, reject: bool) -> None:
    """Approve (Approve Email) the mailbox's address for the router."""
    row = open_crm(ctx).approve_mailbox(mailbox_key, Approval.REJECTED if reject else Approval.APPROVED)
    click.echo(f"mailbox {row['emailaddress']}: {Approval(row['emailrouteraccessapproval']).name.lower()}")


@mailbox.command("set")
@click.argument("mailbox_key", metavar="ADDRESS_OR_ID")
@click.option("--incoming", type=click.Choice(list(INCOMING)), default=None, help="Incoming delivery method.")
@click.option("--outgoing", type=click.Choice(list(OUTGOING)), default=None, help="Outgoing delivery method.")
@click.pass_context
def mailbox_set(ctx: click.Context, mailbox_key: str, incoming: str | None, outgoing: str | None) -> None:
    """Change a mailbox's delivery methods."""
    values: dict[str, int | bool] = {}
    if incoming:
        values["incomingemaildeliverymethod"] = int(INCOMING[incoming])
    if outgoing:
        values["outgoingemaildeliverymethod"] = int(OUTGOING[outgoing])
    if not values:
        raise UsageError("nothing to change", hint="give --incoming and/or --outgoing")
    row = open_crm(ctx).set_mailbox(mailbox_key, **values)
    click.echo(f"mailbox {row['emailaddress']} updated")


@crm_group.command("compose", short_help="Compose an e-mail as a user or queue (and send it).")
@click.option("--from", "sender", required=True, help="The sending user's or queue's address.")
@click.option("--to", "to", multiple=True, help="A To recipient (repeatable).")
@click.option("--cc", multiple=True, help="A Cc recipient (repeatable).")
@click.option("--bcc", multiple=True, help="A Bcc recipient (repeatable).")
@click.option("--subject", required=True, help="The subject (the tracking token is appended on send).")
@click.option("--body", default="", help="The HTML body.")
@click.option(
    "--body-file", type=click.Path(exists=True, dir_okay=False), default=None, help="Read the body here."
)
@click.option("--attach", type=click.Path(exists=True, dir_okay=False), multiple=True, help="Attach a file.")
@click.option(
    "--regarding", default=None, help="Regarding record: the address of a contact, account or lead."
)
@click.option("--reply-to", "parent", default=None, help="The id of the e-mail this one answers.")
@click.option(
    "--importance", type=click.Choice(["low", "normal", "high"]), default="normal", show_default=True
)
@click.option(
    "--send/--draft", default=True, show_default=True, help="Send it (Pending Send) or keep a draft."
)
@click.pass_context
def compose(
    ctx: click.Context,
    sender: str,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    subject: str,
    body: str,
    body_file: str | None,
    attach: tuple[str, ...],
    regarding: str | None,
    parent: str | None,
    importance: str,
    send: bool,
) -> None:
    """Compose an e-mail as a user or queue; by default send it, so it waits in Pending Send."""
    crm = open_crm(ctx)
    if not (to or cc or bcc):
        raise UsageError("the e-mail has no recipients", hint="give --to, --cc or --bcc")
    draft = Draft(
        sender=_record(crm, sender, ("systemuser", "queue")),
        subject=subject,
        body=Path(body_file).read_text(encoding="utf-8") if body_file else body,
        to=to,
        cc=cc,
        bcc=bcc,
        regarding=_record(crm, regarding, ("contact", "account", "lead")) if regarding else None,
        parent_email_id=parent,
        attachments=tuple(_attachment(Path(p)) for p in attach),
        importance=Importance[importance.upper()],
    )
    email_id = crm.create_draft(draft)
    if send:
        result = crm.send_email(None, email_id)
        click.echo(f"e-mail {email_id}: {result.status.label}, subject {result.subject!r}")
    else:
        click.echo(f"e-mail {email_id}: Draft")


def _attachment(path: Path) -> Attachment:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(path.name, mime, path.read_bytes())


@crm_group.command("send", short_help="Send a draft or resubmit a Failed e-mail.")
@click.argument("email_id")
@click.option("--token", default=None, help="Use this tracking token instead of generating one.")
@click.pass_context
def send(ctx: click.Context, email_id: str, token: str | None) -> None:
    """Send a draft (or resubmit a Failed e-mail): it goes to Pending Send."""
    result = open_crm(ctx).send_email(None, email_id, tracking_token=token)
    click.echo(f"e-mail {email_id}: {result.status.label}, subject {result.subject!r}")


@crm_group.command("activities")
@click.option(
    "--status", type=click.Choice(list(STATUSES)), default=None, help="Only e-mails in this status."
)
@click.option("--incoming/--outgoing", "incoming", default=None, help="Only one direction.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.pass_context
def activities(ctx: click.Context, status: str | None, incoming: bool | None, limit: int) -> None:
    """List e-mail activities, newest first, with their status."""
    found = open_crm(ctx).emails(status=STATUSES[status] if status else None, incoming=incoming, limit=limit)
    rows = [
        (
            r["activityid"],
            "in" if not r["directioncode"] else "out",
            EmailStatus(r["statuscode"]).label,
            r["deliveryattempts"],
            r["createdon"].strftime("%Y-%m-%d %H:%M:%S"),
            r["subject"][:60],
        )
        for r in found
    ]
    click.echo(table(["ID", "DIR", "STATUS", "TRIES", "CREATED", "SUBJECT"], rows))


@crm_group.command("show", short_help="Show one e-mail: parties, correlation, attachments, description.")
@click.argument("email_id")
@click.pass_context
def show(ctx: click.Context, email_id: str) -> None:
    """Show one e-mail: status, parties, correlation, regarding record, attachments with their sizes,
    notes, and the description's text (what landed in the CRM)."""
    view = open_crm(ctx).email(email_id)
    row = view.row
    lines = [
        f"E-mail {row['activityid']}",
        f"  subject:      {row['subject']}",
        f"  direction:    {'incoming' if not row['directioncode'] else 'outgoing'}",
        f"  status:       {EmailStatus(row['statuscode']).label} (statecode {row['statecode']})",
        f"  message-id:   {row['messageid'] or '-'}",
        f"  in-reply-to:  {row['inreplyto'] or '-'}",
        f"  token:        {row['trackingtoken'] or '-'}",
        f"  attempts:     {row['deliveryattempts']}",
        f"  correlation:  {CorrelationMethod(row['correlationmethod']).name.lower()}",
        f"  regarding:    {_ref(view.regarding)}",
        f"  parent:       {row['parentactivityid'] or '-'}",
        f"  notification: {Notification(row['notifications']).name.lower()}",
        "  parties:",
    ]
    lines += [
        f"    {role.name.lower():15} {party.address:35} {_ref(party.record)}" for role, party in view.parties
    ]
    lines += [
        f"  attachment:   {a['filename']} ({a['mimetype']}, {a['filesize']} bytes)" for a in view.attachments
    ]
    if not view.attachments:
        lines.append("  attachments:  none")
    lines += [f"  note:         {n['subject']}: {n['notetext']}" for n in view.notes]
    lines += ["  description:", *(f"    {line}" for line in description_text(row["description"]))]
    click.echo("\n".join(lines))


def description_text(description: object) -> list[str]:
    """The activity's description as a tester reads it: the HTML's text, line by line ("(empty)")."""
    html = str(description or "").strip()
    if not html:
        return ["(empty)"]
    try:
        tree = lxml.html.fromstring(html.replace("<br>", "\n").replace("<br/>", "\n"))
        for block in tree.iter("p", "div", "li", "tr"):
            block.tail = "\n" + (block.tail or "")
        text = "".join(str(piece) for piece in tree.itertext())
    except (lxml.etree.ParserError, ValueError):
        text = html
    lines = [line.rstrip() for line in text.splitlines()]
    return [line for line in lines if line.strip()] or ["(empty)"]


def _ref(ref: RecordRef | None) -> str:
    return "-" if ref is None else f"{ref.logical_name} {ref.name or ''} ({ref.id})".replace("  ", " ")


crm_group.add_command(serve_command, name="serve")
