"""Web links: fetch a page with trafilatura's fetcher and turn it into an article file.

The fetch is bounded: http and https only, a timeout, a size limit and a redirect budget (all in
`FetchLimits`, from the Config). trafilatura's SSRF protection refuses any hop to a loopback,
private or link-local address, so a public page cannot redirect into the machine's network; it is
turned off only when the address the user gave is itself such an address (an intranet page, or
the tests' server on 127.0.0.1). Its retry-without-certificate fallback is turned off.

A fetched page becomes a Markdown file with a front-matter header (title, date, publisher, url),
the format `rag.ingest.imports` writes, so it is an ordinary file of the seeds folder: re-indexed,
listed and removed like any other, and its citations link to the url.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from rag.errors import CorpusError

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml", "application/rdf+xml")


@dataclass(frozen=True)
class FetchLimits:
    timeout: int = 10  # seconds per attempt (trafilatura counts whole seconds)
    max_bytes: int = 5_000_000
    max_redirects: int = 3
    # A link to a loopback, private or link-local address is fetched (an intranet page) only when
    # allowed: on a team server, where users are not the machine's owner, turn it off
    # (RAG_FETCH_PRIVATE_ADDRESSES=0) so the app cannot be made to read its own network.
    private_addresses: bool = True


@dataclass(frozen=True)
class Fetched:
    url: str  # where the content came from, after redirects
    data: bytes
    content_type: str  # the media type, lower case, without parameters ("" when not sent)
    text: str  # decoded by trafilatura (charset from the page or detected)


@dataclass(frozen=True)
class WebArticle:
    url: str
    title: str
    publisher: str
    date: str
    body: str  # paragraphs separated by blank lines

    def to_markdown(self) -> bytes:
        """The article as a front-matter Markdown file (the cleaner reads the header back)."""
        header = {"title": self.title, "date": self.date, "publisher": self.publisher, "url": self.url}
        front = "".join(f"{k}: {' '.join(v.split())}\n" for k, v in header.items() if v)
        return f"---\n{front}---\n\n{self.body.strip()}\n".encode()


def check_url(url: str) -> str:
    """The url, stripped; CorpusError unless it is an http(s) address with a host."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise CorpusError(f"{url or '(empty)'}: only http:// and https:// links can be added")
    if not parts.hostname:
        raise CorpusError(f"{url}: the link has no host name")
    return url


def fetch(url: str, limits: FetchLimits, accept: tuple[str, ...] = HTML_TYPES, what: str = "a web page") -> Fetched:
    """GET `url` through trafilatura's fetcher; CorpusError saying why when it fails, answers
    anything but 200, or sends a type not in `accept`."""
    from trafilatura.downloads import fetch_response
    from trafilatura.settings import use_config

    url = check_url(url)
    config = use_config()
    config.set("DEFAULT", "DOWNLOAD_TIMEOUT", str(max(1, int(limits.timeout))))
    config.set("DEFAULT", "MAX_FILE_SIZE", str(limits.max_bytes))
    config.set("DEFAULT", "MAX_REDIRECTS", str(limits.max_redirects))
    internal = _is_internal(urlsplit(url).hostname or "")
    if internal and not limits.private_addresses:
        raise CorpusError(f"{url}: is on a private or local network address, which this server does not fetch "
                          "(RAG_FETCH_PRIVATE_ADDRESSES is off)")
    config.set("DEFAULT", "SSRF_PROTECTION", "off" if internal else "on")
    config.set("DEFAULT", "INSECURE_SSL_FALLBACK", "off")
    # trafilatura logs why a download failed and returns None; the log record is the only place
    # the reason is kept, so it is caught here to tell the user.
    errors = _Capture()
    logger = logging.getLogger("trafilatura.downloads")
    logger.addHandler(errors)
    try:
        response = fetch_response(url, decode=True, config=config)
    finally:
        logger.removeHandler(errors)
    if response is None:
        raise CorpusError(f"{url}: could not be fetched ({_reason(errors.messages, limits)})")
    if response.status != 200:
        raise CorpusError(f"{url}: the server answered HTTP {response.status}{_status_name(response.status)}")
    headers = response.headers or {}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    text = response.html or ""
    if content_type and content_type not in accept:
        raise CorpusError(f"{url}: is not {what} (the server sent {content_type}); "
                          "download the file and upload it instead" if what == "a web page" else
                          f"{url}: is not {what} (the server sent {content_type})")
    if not content_type and not text.lstrip().startswith("<"):
        raise CorpusError(f"{url}: is not {what} (no content type, and it is not markup)")
    return Fetched(response.url or url, response.data or b"", content_type, text)


def article_from_html(url: str, html: str) -> WebArticle:
    """trafilatura's main text and metadata of a page (the same extraction as a saved .html file)."""
    import trafilatura

    body = trafilatura.extract(html, include_comments=False, include_tables=False, favor_recall=True,
                               output_format="txt")
    if not body or not body.strip():
        raise CorpusError(f"{url}: no article text found on the page")
    meta = trafilatura.extract_metadata(html)
    host = urlsplit(url).hostname or ""
    return WebArticle(
        url=url,
        title=(meta.title if meta and meta.title else "") or host,
        publisher=(meta.sitename if meta and meta.sitename else "") or host,
        date=(meta.date if meta and meta.date else "") or "",
        body="\n\n".join(line for line in body.split("\n") if line.strip()),
    )


def fetch_article(url: str, limits: FetchLimits) -> WebArticle:
    page = fetch(url, limits)
    # After redirects (http → https, a short link), the page's own address is the one to cite.
    return article_from_html(page.url, page.text)


def link_filename(url: str) -> str:
    """A stable file name for a link: host and path, and a hash so two urls never share one."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}").strip("-").lower()[:80]
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{slug or 'page'}-{digest}.md"


def _is_internal(host: str) -> bool:
    """The host resolves to a loopback, private or link-local address (the user asked for one)."""
    try:
        addresses = {str(ipaddress.ip_address(host.strip("[]")))}  # an address, not a name
    except ValueError:
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError):
            return False  # the fetch reports that the host is not found
    for addr in addresses:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
        if not ip.is_global:
            return True
    return False


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _reason(messages: list[str], limits: FetchLimits) -> str:
    text = " ".join(messages)
    checks = [
        (r"too many redirects", f"more than {limits.max_redirects} redirects"),
        (r"SSRF protection", "it leads to a private or local network address"),
        (r"No host specified|URLSchemeUnknown|scheme", "it redirects to an address that is not http or https"),
        (r"timed out|Timeout", f"no answer within {limits.timeout} s"),
        (r"exceeds MAX_FILE_SIZE", f"larger than the {limits.max_bytes:,}-byte limit"),
        (r"Name or service not known|Failed to resolve|nodename nor servname|getaddrinfo",
         "the host name was not found"),
        (r"Connection refused|NewConnectionError", "the server refused the connection"),
        (r"SSL|CERTIFICATE", "its TLS certificate could not be verified"),
    ]
    for pattern, reason in checks:
        if re.search(pattern, text, re.I):
            return reason
    return text.split(": ", 1)[-1][:200] if text else "no response"


def _status_name(status: int) -> str:
    from http import HTTPStatus

    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""
