"""The organisation row: the e-mail settings that steer the embedded CRM's decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from router.crm.embedded import rows
from router.crm.embedded.schema import organization

DEFAULT_NAME = "Contoso"
MAX_TOKEN_BASE = 2_147_483_647


@dataclass(frozen=True)
class OrgSettings:
    """The organisation's e-mail settings, under their Dynamics column names' meaning."""

    organization_id: str
    name: str
    business_unit_id: str
    tracking_prefix: str
    previous_prefixes: tuple[str, ...]
    token_base: int
    user_digits: int
    counter_digits: int
    ignore_internal_email: bool
    require_approval_users: bool
    require_approval_queues: bool
    allow_unresolved_parties: bool
    max_upload_size: int
    correlation_enabled: bool
    hash_min_address_count: int

    @property
    def all_prefixes(self) -> tuple[str, ...]:
        """The current tracking prefix first, then every former one (old tokens keep matching)."""
        return (self.tracking_prefix, *(p for p in self.previous_prefixes if p != self.tracking_prefix))


def ensure(conn: Connection, now: datetime, name: str = DEFAULT_NAME) -> None:
    """Create the single organisation row when the database is new."""
    if conn.execute(select(organization.c.organizationid)).first() is None:
        rows.insert(conn, organization, {"name": name, "businessunitid": rows.new_id()}, now)


def load(conn: Connection) -> OrgSettings:
    """Return the organisation's settings."""
    row = conn.execute(select(organization)).mappings().one()
    return OrgSettings(
        organization_id=row["organizationid"],
        name=row["name"],
        business_unit_id=row["businessunitid"],
        tracking_prefix=row["trackingprefix"],
        previous_prefixes=tuple(p for p in row["previoustrackingprefixes"].split("\n") if p),
        token_base=row["trackingtokenidbase"],
        user_digits=row["trackingtokeniddigits"],
        counter_digits=row["maximumtrackingnumber"],
        ignore_internal_email=row["ignoreinternalemail"],
        require_approval_users=row["requireapprovalforuseremail"],
        require_approval_queues=row["requireapprovalforqueueemail"],
        allow_unresolved_parties=row["allowunresolvedpartiesonemailsend"],
        max_upload_size=row["maxuploadfilesize"],
        correlation_enabled=row["emailcorrelationenabled"],
        hash_min_address_count=row["hashminaddresscount"],
    )


def update(conn: Connection, now: datetime, changes: Mapping[str, Any]) -> OrgSettings:
    """Apply ``changes`` (Dynamics column names) after validating them; return the new settings."""
    current = load(conn)
    values = dict(changes)
    _validate(values)
    prefix = values.get("trackingprefix")
    if prefix is not None and prefix != current.tracking_prefix:
        history = [current.tracking_prefix, *current.previous_prefixes]
        values["previoustrackingprefixes"] = "\n".join(dict.fromkeys(p for p in history if p != prefix))
    rows.update(conn, organization, current.organization_id, values, now)
    return load(conn)


def _validate(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(organization.c.keys()) - {"previoustrackingprefixes"}
    if unknown:
        raise rows.invalid(
            f"unknown organization setting(s): {', '.join(sorted(unknown))}",
            hint="use the Dynamics column names, e.g. trackingprefix",
        )
    prefix = values.get("trackingprefix")
    if prefix is not None and not 1 <= len(str(prefix)) <= 20:
        raise rows.invalid("the tracking token prefix must have 1 to 20 characters", hint="e.g. CRM:")
    for column in ("trackingtokeniddigits", "maximumtrackingnumber"):
        if column in values and not 1 <= int(values[column]) <= 9:
            raise rows.invalid(f"{column} must be between 1 and 9", hint="the Dynamics default is 3")
    base = values.get("trackingtokenidbase")
    if base is not None and not 0 <= int(base) <= MAX_TOKEN_BASE:
        raise rows.invalid(f"trackingtokenidbase must be between 0 and {MAX_TOKEN_BASE}", hint="default 0")
    size = values.get("maxuploadfilesize")
    if size is not None and not 0 < int(size) <= 128 * 1024 * 1024:
        raise rows.invalid("maxuploadfilesize must be between 1 byte and 128 MB", hint="default 5 MB")
