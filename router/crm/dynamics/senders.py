"""E-mails of many sender mailboxes in a few requests, whatever the number of mailboxes.

A ``$filter`` naming each mailbox (``_sendermailboxid_value eq …`` per GUID) outgrows the server's URL
limit after about twenty mailboxes (IIS: 2,048 characters of query string by default), so a router
serving thousands would need hundreds of requests per cycle. Up to ``MAILBOXES_PER_FILTER`` mailboxes
are named in the filter; beyond that the filter keeps only the status and time conditions, the rows
carry their sender mailbox, and the ones of other mailboxes are dropped here: one paged GET per
question instead of one per twenty mailboxes.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.crm.dynamics import odata
from router.crm.dynamics.client import JsonObject, WebApiClient

MAILBOXES_PER_FILTER = 20
SENDER = "_sendermailboxid_value"


def emails_of_senders(client: WebApiClient, condition: str, mailbox_ids: Sequence[str],
                      select: str) -> list[JsonObject]:
    """Every e-mail meeting ``condition`` (an OData filter) whose sender mailbox is one of ``mailbox_ids``.

    ``select`` names the columns wanted; the sender mailbox is always added.
    """
    wanted = {odata.guid(m, "mailbox id") for m in mailbox_ids}
    if not wanted:
        return []
    columns = select if SENDER in select.split(",") else f"{select},{SENDER}"
    if len(wanted) <= MAILBOXES_PER_FILTER:
        condition = f"{condition} and {odata.any_equal(SENDER, sorted(wanted))}"
    rows = client.get_all("emails?" + odata.query_string({"$select": columns, "$filter": condition}))
    return [row for row in rows if str(row.get(SENDER) or "").lower() in wanted]
