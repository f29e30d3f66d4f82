"""``MSCRMCallerID``: a caller acting on behalf of another CRM user, as Dynamics honours it.

A request carrying ``MSCRMCallerID: <systemuserid>`` is served as that user (WhoAmI answers with the
user's id; records are written by the user) when the authenticated caller holds
``prvActOnBehalfOfAnotherUser`` — on-premises, membership of the PrivUserGroup; the facade is told who
holds it (``FacadeCredentials.act_on_behalf``). Otherwise Dynamics answers 403 with the privilege error
naming the missing privilege. An id that names no user is 404 "systemuser With Id = … Does Not Exist";
a disabled user is refused like any disabled caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace

from sqlalchemy import select

from router.crm.codes import ErrorCode
from router.crm.embedded.crm import EmbeddedCrm
from router.crm.embedded.schema import systemuser
from router.crm.facade.routing import Request
from router.errors import CrmPermanentError, CrmRecordNotFoundError

HEADER = "MSCRMCallerID"
PRIVILEGE = "prvActOnBehalfOfAnotherUser"


def acting(crm: EmbeddedCrm, request: Request, holders: Collection[str]) -> Request:
    """``request`` as served: by the user ``MSCRMCallerID`` names when the caller may act for them."""
    caller_id = _header(request)
    if caller_id is None:
        return request
    if request.principal.lower() not in {h.lower() for h in holders}:
        raise CrmPermanentError(
            f"Principal user (Id={request.principal}) is missing {PRIVILEGE} privilege",
            code=ErrorCode.PRIVILEGE_DENIED,
            hint="add the caller to PrivUserGroup (on-premises) or give it a role with the privilege",
        )
    with crm.reading() as conn:
        found = select(systemuser.c.domainname).where(systemuser.c.systemuserid == caller_id)
        row = conn.execute(found).first()
    if row is None:
        raise CrmRecordNotFoundError(f"systemuser With Id = {caller_id} Does Not Exist",
                                     item_id=caller_id, hint="send the systemuserid of an existing user")
    # Served as the user from here on; a $batch's parts inherit the user, not the header.
    headers = {k: v for k, v in request.headers.items() if k.lower() != HEADER.lower()}
    return replace(request, principal=str(row[0]), headers=headers)


def _header(request: Request) -> str | None:
    for name, value in request.headers.items():
        if name.lower() == HEADER.lower() and value.strip():
            try:
                return str(uuid.UUID(value.strip()))
            except ValueError as exc:
                raise CrmPermanentError(f"{HEADER} {value.strip()[:64]!r} is not a systemuserid (a GUID)",
                                        code=ErrorCode.INVALID_ARGUMENT,
                                        hint="send the systemuserid of the user to act for") from exc
    return None
