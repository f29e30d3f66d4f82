"""SyncFolderItems requests made from a folder's template are the bytes exchangelib would send, and the
simulator (which validates every request against the EWS schema) answers them as it answers exchangelib's."""

from __future__ import annotations

import gc
from typing import Any

from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems

from router.ews import AccountFactory
from router.ews.sync import TEMPLATES, RequestTemplates, _Payload, _SyncFolderItems, sync_changes
from router.simulator import Controller
from tests.support.ews_simulator import ALICE, BOB

from .test_factory_simulator import spec

FIELDS = ("datetime_received", "item_class")


def _request(service: Any, folder: Any, state: str | None) -> bytes:
    """The request ``service`` sends for one page of ``folder`` after ``state``."""
    extra = {f for f in folder.normalize_fields(fields=FIELDS) if not f.field.is_attribute}
    payload = service.get_payload(folder=folder, shape=ID_ONLY, additional_fields=extra, sync_state=state,
                                  ignore=None, max_changes_returned=10, sync_scope=None)
    return bytes(service.wrap(content=payload, api_version=service.account.version.api_version))


def test_a_templated_request_is_the_request_exchangelib_builds(ews_simulator: Controller,
                                                                factory: AccountFactory) -> None:
    account = factory.account(spec(ews_simulator, ALICE))
    folder = account.inbox
    for state in (None, "H4sIAAAAAAAEAO29B2AcSZYlJi9tynt/SvVK1+B0=", "odd <state> & 'quotes'"):
        stock = _request(SyncFolderItems(account=account), folder, state)
        assert _request(_SyncFolderItems(account=account), folder, state) == stock, state
        # And again, now from the template the first call left.
        assert _request(_SyncFolderItems(account=account), folder, state) == stock, state


def test_pages_from_templates_follow_the_folder(ews_simulator: Controller, factory: AccountFactory) -> None:
    account = factory.account(spec(ews_simulator, ALICE))
    folder = account.inbox
    first = sync_changes(account, folder, None, 10, FIELDS, mailbox=ALICE)
    ews_simulator.control.inject(ALICE, from_=BOB, subject="after the first page", body="hello")
    second = sync_changes(account, folder, first.state, 10, FIELDS, mailbox=ALICE)
    assert [kind for kind, _ in second.changes] == [SyncFolderItems.CREATE]
    assert second.changes[0][1].item_class == "IPM.Note"
    idle = sync_changes(account, folder, second.state, 10, FIELDS, mailbox=ALICE)
    assert idle.changes == [] and not idle.more
    assert TEMPLATES.of(folder), "the folder has a template"


def test_a_different_page_size_gets_its_own_template(ews_simulator: Controller,
                                                      factory: AccountFactory) -> None:
    account = factory.account(spec(ews_simulator, ALICE))
    folder = account.inbox
    service = _SyncFolderItems(account=account)
    small = _request(service, folder, "state")
    extra = {f for f in folder.normalize_fields(fields=FIELDS) if not f.field.is_attribute}
    large = service.wrap(_Payload(folder, ID_ONLY, frozenset(extra), "state", 500, None),
                         api_version=account.version.api_version)
    assert b"<m:MaxChangesReturned>10<" in small and b"<m:MaxChangesReturned>500<" in large


def test_a_collected_folders_templates_are_forgotten() -> None:
    class Folder:
        """Stands in for an exchangelib folder: only its identity matters to the templates."""

    templates = RequestTemplates()
    kept, dropped = Folder(), Folder()
    templates.of(kept)["key"] = b"kept"
    templates.of(dropped)["key"] = b"dropped"
    assert len(templates) == 2
    del dropped
    gc.collect()
    assert len(templates) == 1 and templates.of(kept) == {"key": b"kept"}
