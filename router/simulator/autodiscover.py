"""Autodiscover: SOAP GetUserSettings (autodiscover.svc, what exchangelib 5 uses) and POX autodiscover.xml.

Settings the simulator cannot answer are reported per user as SettingIsNotAvailable, which clients
treat as harmless; an unknown mailbox is InvalidUser (SOAP) or error 500 (POX), as Exchange answers.
"""

from __future__ import annotations

from lxml import etree

from router.simulator.model import User
from router.simulator.store import Store
from router.simulator.versions import API_VERSIONS, ServerBuild
from router.simulator.xml import SOAP_NS, child, children, text_of

AD_NS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA_NS = "http://www.w3.org/2005/08/addressing"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
POX_REQ_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
POX_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
POX_OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
ACTION = "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse"


def _a(name: str) -> str:
    return f"{{{AD_NS}}}{name}"


class Autodiscover:
    """Answers autodiscover requests for the store's users, pointing them at ``ews_url``."""

    def __init__(self, store: Store, build: ServerBuild, ews_url: str) -> None:
        self.store = store
        self.build = build
        self.ews_url = ews_url
        self.redirects: dict[str, str] = {}
        """Mailbox (lower case) -> where Autodiscover sends its client instead: another address (with
        ``@``: RedirectAddress) or another Autodiscover URL (RedirectUrl), as for a mailbox that moved
        to another forest or organisation."""

    def settings(self, user: User) -> dict[str, str]:
        """The user settings this server can answer."""
        schemas = [v for v in API_VERSIONS if v.startswith("Exchange") and self.build.accepts(v)]
        return {
            "UserDisplayName": user.name,
            "UserDN": f"/o=Simulated Organization/ou=Exchange Administrative Group/cn=Recipients/"
            f"cn={user.logon}",
            "AutoDiscoverSMTPAddress": user.address,
            "ExternalEwsUrl": self.ews_url,
            "InternalEwsUrl": self.ews_url,
            "EwsSupportedSchemas": ", ".join(schemas),
            "CasVersion": str(self.build),
            "ExternalMailboxServer": self.store.hostname,
            "InternalMailServer": self.store.hostname,
        }

    def soap(self, body: bytes) -> tuple[int, bytes]:
        """Answer a GetUserSettings envelope."""
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            request = child(child(child(root, "Body"), "GetUserSettingsRequestMessage"), "Request")
        except etree.XMLSyntaxError:
            request = None
        if request is None:
            return 400, b""
        mailboxes = [text_of(u, "Mailbox", "") or "" for u in children(child(request, "Users"), "User")]
        wanted = [(s.text or "").strip() for s in children(child(request, "RequestedSettings"), "Setting")]
        return 200, self._envelope(mailboxes, wanted)

    def _envelope(self, mailboxes: list[str], wanted: list[str]) -> bytes:
        env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"s": SOAP_NS, "a": WSA_NS})
        header = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
        action = etree.SubElement(header, f"{{{WSA_NS}}}Action")
        action.set(f"{{{SOAP_NS}}}mustUnderstand", "1")
        action.text = ACTION
        svi = etree.SubElement(header, _a("ServerVersionInfo"), nsmap={"h": AD_NS})
        for name, value in (
            ("MajorVersion", self.build.major),
            ("MinorVersion", self.build.minor),
            ("MajorBuildNumber", self.build.build),
            ("MinorBuildNumber", self.build.revision),
        ):
            etree.SubElement(svi, _a(name)).text = str(value)
        etree.SubElement(svi, _a("Version")).text = "Exchange2015"
        message = etree.SubElement(
            etree.SubElement(env, f"{{{SOAP_NS}}}Body"),
            _a("GetUserSettingsResponseMessage"),
            nsmap={None: AD_NS},  # type: ignore[dict-item]
        )
        response = etree.SubElement(message, _a("Response"), nsmap={"i": XSI_NS})
        etree.SubElement(response, _a("ErrorCode")).text = "NoError"
        etree.SubElement(response, _a("ErrorMessage"))
        users = etree.SubElement(response, _a("UserResponses"))
        for mailbox in mailboxes:
            self._user_response(users, mailbox, wanted)
        return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))

    def _user_response(self, parent: etree._Element, mailbox: str, wanted: list[str]) -> None:
        resp = etree.SubElement(parent, _a("UserResponse"))
        target = self.redirects.get(mailbox.strip().lower())
        if target is not None:
            code = "RedirectAddress" if "@" in target else "RedirectUrl"
            etree.SubElement(resp, _a("ErrorCode")).text = code
            etree.SubElement(resp, _a("ErrorMessage")).text = f"Redirection to {target}."
            etree.SubElement(resp, _a("RedirectTarget")).text = target
            return
        user = self.store.user(mailbox)
        if user is None:
            etree.SubElement(resp, _a("ErrorCode")).text = "InvalidUser"
            etree.SubElement(resp, _a("ErrorMessage")).text = f"Invalid user: '{mailbox}'"
            return
        etree.SubElement(resp, _a("ErrorCode")).text = "NoError"
        etree.SubElement(resp, _a("ErrorMessage")).text = "No error."
        etree.SubElement(resp, _a("RedirectTarget")).set(f"{{{XSI_NS}}}nil", "true")
        known = self.settings(user)
        errors = etree.SubElement(resp, _a("UserSettingErrors"))
        for name in wanted:
            if name not in known:
                err = etree.SubElement(errors, _a("UserSettingError"))
                etree.SubElement(err, _a("ErrorCode")).text = "SettingIsNotAvailable"
                etree.SubElement(err, _a("ErrorMessage")).text = f"User setting '{name}' is not available."
                etree.SubElement(err, _a("SettingName")).text = name
        settings = etree.SubElement(resp, _a("UserSettings"))
        for name in wanted or list(known):
            if name in known:
                s = etree.SubElement(settings, _a("UserSetting"))
                s.set(f"{{{XSI_NS}}}type", "StringSetting")
                etree.SubElement(s, _a("Name")).text = name
                etree.SubElement(s, _a("Value")).text = known[name]

    def pox(self, body: bytes) -> tuple[int, bytes]:
        """Answer a POX autodiscover.xml request (Outlook response schema 2006a)."""
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            address = root.findtext(f".//{{{POX_REQ_NS}}}EMailAddress") or ""
        except etree.XMLSyntaxError:
            return 400, b""
        out = etree.Element(f"{{{POX_NS}}}Autodiscover", nsmap={None: POX_NS})  # type: ignore[dict-item]
        resp = etree.SubElement(out, f"{{{POX_OUTLOOK_NS}}}Response", nsmap={None: POX_OUTLOOK_NS})  # type: ignore[dict-item]
        user = self.store.user(address.strip())
        target = self.redirects.get(address.strip().lower())
        if target is not None:
            account = etree.SubElement(resp, f"{{{POX_OUTLOOK_NS}}}Account")
            kind = ("redirectAddr", "RedirectAddr") if "@" in target else ("redirectUrl", "RedirectUrl")
            etree.SubElement(account, f"{{{POX_OUTLOOK_NS}}}Action").text = kind[0]
            etree.SubElement(account, f"{{{POX_OUTLOOK_NS}}}{kind[1]}").text = target
        elif user is None:
            err = etree.SubElement(resp, f"{{{POX_OUTLOOK_NS}}}Error", Time="00:00:00", Id="1")
            etree.SubElement(err, f"{{{POX_OUTLOOK_NS}}}ErrorCode").text = "500"
            etree.SubElement(err, f"{{{POX_OUTLOOK_NS}}}Message").text = "The email address can't be found."
            etree.SubElement(err, f"{{{POX_OUTLOOK_NS}}}DebugData")
        else:
            self._pox_account(resp, user)
        return 200, bytes(etree.tostring(out, xml_declaration=True, encoding="utf-8"))

    def _pox_account(self, resp: etree._Element, user: User) -> None:
        def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
            el = etree.SubElement(parent, f"{{{POX_OUTLOOK_NS}}}{name}")
            el.text = text
            return el

        u = sub(resp, "User")
        sub(u, "DisplayName", user.name)
        sub(u, "AutoDiscoverSMTPAddress", user.address)
        account = sub(resp, "Account")
        sub(account, "AccountType", "email")
        sub(account, "Action", "settings")
        sub(account, "MicrosoftOnline", "False")
        for kind in ("EXCH", "EXPR"):
            proto = sub(account, "Protocol")
            sub(proto, "Type", kind)
            sub(proto, "Server", self.store.hostname)
            sub(proto, "ServerVersion", f"{(self.build.major << 28) | (self.build.minor << 22):08X}")
            sub(proto, "EwsUrl", self.ews_url)
            sub(proto, "ASUrl", self.ews_url.rsplit("/EWS/", 1)[0] + "/Microsoft-Server-ActiveSync")
