"""Who is in the demo: Contoso's people and queue, and their external customers."""

from __future__ import annotations

from router.crm.codes import FilteringMethod
from router.harness.org import Customer, Organisation, Person

ALICE = Person("alice@contoso.com", "Alice Adams", send="as")
BOB = Person("bob@contoso.com", "Bob Brown", send="on_behalf")
SUPPORT = Person("support@contoso.com", "Contoso Support", queue=True, send="as")
ERIN = Person("erin@contoso.com", "Erin Evans", send="as", graph=True)
"""Erin's mailbox is in Exchange Online: the router reaches it over Microsoft Graph."""
CAROL = Customer("carol@fabrikam.com", "Carol Clark")
FABRIKAM = Customer("info@fabrikam.com", "Fabrikam", kind="account")
DAVE = Customer("dave@litware.com", "Dave Dunn", kind="lead")

RIGHTS = {"as": "Send As", "on_behalf": "Send On Behalf"}


def contoso() -> Organisation:
    """The demo organisation. Mail from anyone is tracked, so the customers' first mail lands too."""
    return Organisation([ALICE, BOB, SUPPORT, ERIN], [CAROL, FABRIKAM, DAVE],
                        filtering=FilteringMethod.ALL)


def right_of(address: str) -> str:
    """The Exchange right the router's service account holds on ``address``'s mailbox."""
    person = next(p for p in (ALICE, BOB, SUPPORT, ERIN) if p.address == address)
    return RIGHTS[person.send]
