"""Seed files: the organisation a simulator starts with (TOML or JSON).

Format (all sections optional)::

    [[users]]                       # mailbox-enabled users; no password = cannot log on (shared mailbox)
    address = "queue@contoso.com"
    name = "Support Queue"
    password = "..."                # Basic / NTLM / OAuth password grant
    username = "queue"              # logon name; DOMAIN\\queue and the UPN (address) work too
    aliases = ["help@contoso.com"]
    full_access = ["svc@contoso.com"]      # rights ON this mailbox, granted TO the listed users
    send_as = ["svc@contoso.com"]
    send_on_behalf = ["bob@contoso.com"]   # GrantSendOnBehalfTo
    application_impersonation = false      # this user holds the ApplicationImpersonation role
    impersonation_scope = []               # limit that role to these mailboxes (empty = all)

    [[apps]]                        # OAuth client-credentials applications
    client_id = "..."; client_secret = "..."; scope = []   # full_access_as_app, optionally scoped
    graph_permissions = ["Mail.ReadWrite", "Mail.Send"]      # Microsoft Graph application permissions
    graph_mailboxes = []            # application access policy for Graph (empty = every mailbox)
    certificate = "-----BEGIN CERTIFICATE-----..."          # client assertions may be signed with it

    [[folders]]
    mailbox = "queue@contoso.com"; path = "Inbox/CRM"

    [[messages]]                    # initial mail: eml (path relative to the seed file) or fields
    mailbox = "queue@contoso.com"; folder = "inbox"; eml = "mail/first.eml"
    from = "a@fabrikam.com"; to = ["queue@contoso.com"]; subject = "..."; body = "..."; is_read = false

    [[rules]]                       # Inbox rules
    mailbox = "alice@contoso.com"; name = "to CRM"; forward_as_attachment_to = ["crm@contoso.com"]

Every problem in a file is reported at once, with the file and the key path.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.errors import Problem, SimulatorError
from router.simulator import mime
from router.simulator.model import Address, App, User
from router.simulator.rules import Actions, Predicates, Rule, new_rule_id
from router.simulator.store import Store


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class UserSeed(_Strict):
    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="Primary SMTP address.")
    name: str = Field("", description="Display name (defaults to the address's local part).")
    password: str | None = Field(None, description="Password; omit for a mailbox nobody logs on to.")
    username: str | None = Field(None, description="Logon name (defaults to the local part).")
    aliases: list[str] = Field(default_factory=list, description="Proxy addresses.")
    full_access: list[str] = Field(default_factory=list, description="Users with FullAccess on this mailbox.")
    send_as: list[str] = Field(default_factory=list, description="Users with Send As on this mailbox.")
    send_on_behalf: list[str] = Field(default_factory=list, description="GrantSendOnBehalfTo.")
    application_impersonation: bool = Field(False, description="This user holds ApplicationImpersonation.")
    impersonation_scope: list[str] = Field(default_factory=list, description="Mailboxes the role covers.")
    message_copy_for_sent_as: bool = Field(
        False, description="MessageCopyForSentAsEnabled: mail sent as this mailbox by another is also saved "
        "to its Sent Items.")
    message_copy_for_send_on_behalf: bool = Field(False, description="MessageCopyForSendOnBehalfEnabled.")


class AppSeed(_Strict):
    client_id: str
    client_secret: str
    name: str = ""
    tenant: str = "common"
    scope: list[str] = Field(default_factory=list, description="Mailboxes the app may use (empty = all).")
    graph_permissions: list[Literal["Mail.ReadWrite", "Mail.Send"]] = Field(
        default_factory=list, description="Microsoft Graph application permissions (admin-consented)."
    )
    graph_mailboxes: list[str] = Field(
        default_factory=list, description="Application access policy: Graph mailboxes allowed (empty = all)."
    )
    certificate: str | None = Field(None, description="PEM certificate for client assertions.")


class FolderSeed(_Strict):
    mailbox: str
    path: str


class MessageSeed(_Strict):
    mailbox: str
    folder: str = "inbox"
    eml: str | None = None
    from_: str | None = Field(None, alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    subject: str = ""
    body: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    is_read: bool = False
    categories: list[str] = Field(default_factory=list)


class RuleSeed(_Strict):
    mailbox: str
    name: str
    priority: int = 1
    subject_contains: list[str] = Field(default_factory=list)
    from_addresses: list[str] = Field(default_factory=list)
    forward_as_attachment_to: list[str] = Field(default_factory=list)
    forward_to: list[str] = Field(default_factory=list)
    redirect_to: list[str] = Field(default_factory=list)
    move_to: str | None = None
    mark_as_read: bool = False
    stop_processing_rules: bool = False


class SeedFile(_Strict):
    users: list[UserSeed] = Field(default_factory=list)
    apps: list[AppSeed] = Field(default_factory=list)
    folders: list[FolderSeed] = Field(default_factory=list)
    messages: list[MessageSeed] = Field(default_factory=list)
    rules: list[RuleSeed] = Field(default_factory=list)


def load_seed(path: Path) -> tuple[SeedFile, Path]:
    """Read and validate a seed file; raise SimulatorError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimulatorError(
            f"cannot read seed file: {exc.strerror}", path=str(path), hint="check the path given to --seed"
        ) from exc
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SimulatorError(
            f"the seed file is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}",
            path=str(path),
            hint="fix the syntax error reported above",
        ) from exc
    return parse_seed(data, str(path)), path.parent


def parse_seed(data: object, source: str = "<seed>") -> SeedFile:
    try:
        return SeedFile.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(source, ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
        lines = "\n".join(f"  - {p}" for p in problems)
        raise SimulatorError(
            f"{len(problems)} problem(s) in the seed:\n{lines}",
            path=source,
            hint="fix each key named above (see router/simulator/seed.py for the format)",
        ) from exc


def apply_seed(store: Store, seed: SeedFile, base: Path | None = None) -> None:
    """Create everything the seed describes, users first so rights and messages can refer to them."""
    with store.lock:
        for u in seed.users:
            store.add_user(
                User(
                    u.address,
                    u.name or u.address.split("@")[0],
                    u.password,
                    u.username,
                    list(u.aliases),
                    application_impersonation=u.application_impersonation,
                    impersonation_scope={s.lower() for s in u.impersonation_scope} or None,
                    message_copy_for_sent_as=u.message_copy_for_sent_as,
                    message_copy_for_send_on_behalf=u.message_copy_for_send_on_behalf,
                )
            )
        for u in seed.users:
            user = store.require_user(u.address)
            for attr in ("full_access", "send_as", "send_on_behalf"):
                getattr(user, attr).update(store.require_user(a).key for a in getattr(u, attr))
        for a in seed.apps:
            store.add_app(
                App(
                    a.client_id,
                    a.client_secret,
                    a.tenant,
                    a.name,
                    scope={store.require_user(s).key for s in a.scope} or None,
                    graph_permissions=set(a.graph_permissions),
                    graph_mailboxes={store.require_user(s).key for s in a.graph_mailboxes} or None,
                    certificate=a.certificate,
                )
            )
        for f in seed.folders:
            store.folder_by_path(f.mailbox, f.path, create=True)
        for msg in seed.messages:
            seed_message(store, msg, base)
        for r in seed.rules:
            _seed_rule(store, r)


def seed_message(store: Store, msg: MessageSeed, base: Path | None) -> None:
    folder = store.folder_by_path(msg.mailbox, msg.folder, create=True)
    if msg.eml:
        path = (base or Path.cwd()) / msg.eml
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SimulatorError(
                f"cannot read message file: {exc.strerror}",
                path=str(path),
                hint="eml paths are relative to the seed file",
            ) from exc
    else:
        raw = mime.build(
            mime.Draft(
                subject=msg.subject,
                body=msg.body,
                from_=store.address_of(msg.from_) if msg.from_ else None,
                to=[store.address_of(t) for t in msg.to],
                cc=[store.address_of(c) for c in msg.cc],
                message_id=msg.message_id or mime.new_message_id(store.hostname),
                in_reply_to=msg.in_reply_to,
                references=msg.in_reply_to,
            ),
            date=store.clock.now(),
        )
    store.add_item(folder, raw, is_read=msg.is_read, categories=list(msg.categories))


def _seed_rule(store: Store, r: RuleSeed) -> None:
    owner = store.require_user(r.mailbox)
    pred = Predicates()
    if r.subject_contains:
        pred.strings["ContainsSubjectStrings"] = list(r.subject_contains)
    if r.from_addresses:
        pred.addresses["FromAddresses"] = [Address(a) for a in r.from_addresses]
    actions = Actions(
        forward_as_attachment_to=[store.address_of(a) for a in r.forward_as_attachment_to],
        forward_to=[store.address_of(a) for a in r.forward_to],
        redirect_to=[store.address_of(a) for a in r.redirect_to],
        move_to_folder=store.folder_by_path(owner.address, r.move_to, create=True).uid if r.move_to else None,
        mark_as_read=r.mark_as_read,
        stop_processing_rules=r.stop_processing_rules,
    )
    store.rules.setdefault(owner.key, []).append(
        Rule(new_rule_id(), r.name, r.priority, True, pred, Predicates(), actions)
    )
