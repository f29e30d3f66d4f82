"""IIS request filtering as it stands in front of an on-premises Dynamics server, so tests meet it.

An on-premises Web API is an IIS application; IIS's request filtering refuses a request before the
CRM sees it when the URL is too long. Defaults (``<requestLimits>`` of ``system.webServer/security/
requestFiltering``): ``maxQueryString`` 2,048 bytes and ``maxUrl`` 4,096 bytes (the URL without its
query string), both as sent, percent-encoding included. IIS answers 404 with the sub-status in its
log and detailed error page: 404.15 "Query String Too Long", 404.14 "URL Too Long". Below IIS,
HTTP.sys refuses a request line past 16 KB with 414 (``MaxFieldLength``), before IIS is reached.

CheckIncomingEmail sends every address as a GET parameter; past about 65 recipients its query string
passes 2,048 bytes, which is why the adapter then sends it inside an OData ``$batch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from router.crm.facade.routing import Reply

MAX_QUERY_STRING = 2048
MAX_URL = 4096
HTTP_SYS_MAX_REQUEST_TARGET = 16384


@dataclass(frozen=True)
class RequestLimits:
    """The limits the facade applies to each request target (IIS's defaults unless a test changes them)."""

    max_query_string: int = MAX_QUERY_STRING
    max_url: int = MAX_URL
    max_request_target: int = HTTP_SYS_MAX_REQUEST_TARGET


IIS_DEFAULTS = RequestLimits()


def refusal(target: str, limits: RequestLimits = IIS_DEFAULTS) -> Reply | None:
    """The reply IIS (or HTTP.sys) gives a request for ``target`` (path and query), or None to serve it."""
    if len(target.encode("utf-8")) > limits.max_request_target:
        return _page(414, "", "Request URL Too Long", "The request URL is too long (HTTP.sys).")
    parts = urlsplit(target)
    if len(parts.query.encode("utf-8")) > limits.max_query_string:
        return _page(404, "15", "Query String Too Long",
                     "The request filtering module is configured to deny a request where the query "
                     f"string is too long (maxQueryString {limits.max_query_string}).")
    if len(parts.path.encode("utf-8")) > limits.max_url:
        return _page(404, "14", "URL Too Long",
                     f"The request filtering module is configured to deny a request where the URL is too "
                     f"long (maxUrl {limits.max_url}).")
    return None


def _page(status: int, substatus: str, title: str, text: str) -> Reply:
    """IIS's detailed error page: HTML, not the Web API's JSON error."""
    code = f"{status}.{substatus}" if substatus else str(status)
    html = (f"<!DOCTYPE html><html><head><title>IIS 10.0 Detailed Error - {code} - {title}</title></head>"
            f"<body><h3>HTTP Error {code} - {title}</h3><h4>{text}</h4></body></html>")
    return Reply(status, raw=html.encode("utf-8"), content_type="text/html")
