"""RSS and Atom feeds (feedparser): each entry's article becomes a file of the seeds folder.

A feed's entries are written under `<seeds>/imported/feed-<host>/`, one front-matter Markdown
file per entry, named by a hash of the entry's id (its guid, else its link). An entry whose file
exists is not fetched again, so re-running an import adds only the new entries; entries that left
the feed stay (a feed shows only its latest items). Each entry's link is fetched like a web link
(rag.ingest.web, same limits); when that fails, the text the feed itself carries (content or
summary) is used if it is long enough to be an article, else the entry is reported and skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from rag.errors import CorpusError
from rag.ingest.loaders import parse
from rag.ingest.web import FEED_TYPES, HTML_TYPES, FetchLimits, WebArticle, article_from_html, fetch, fetch_article

FEED_DIR_PREFIX = "feed-"
# A feed's own summary stands in for an unreachable article only when it is at least this long
# (hand-set: a teaser of one or two lines is not worth citing).
MIN_FEED_TEXT_WORDS = 40


@dataclass(frozen=True)
class FeedEntry:
    key: str  # stable id: the guid, else the link
    link: str
    title: str
    published: str  # YYYY-MM-DD when the feed gives a date
    content_html: str  # the entry's own content or summary


@dataclass
class FeedImport:
    folder: str  # relative to the seeds folder
    title: str
    files: dict[str, bytes] = field(default_factory=dict)  # new entries: relative name -> article file
    known: int = 0  # entries already imported earlier
    failed: list[str] = field(default_factory=list)  # one line per entry that could not be imported


def read_feed(source: str, limits: FetchLimits) -> tuple[str, str, list[FeedEntry]]:
    """(feed url or path, feed title, entries) of a feed at an http(s) address or in a local file."""
    import feedparser

    path = Path(source).expanduser()
    if not re.match(r"^https?://", source, re.I):
        if not path.is_file():
            raise CorpusError(f"{source}: no such feed file, and not an http(s) address")
        if path.stat().st_size > limits.max_bytes:
            raise CorpusError(f"{source}: {path.stat().st_size:,} bytes is over the {limits.max_bytes:,}-byte limit")
        data, base = path.read_bytes(), ""
    else:
        fetched = fetch(source, limits, accept=FEED_TYPES + HTML_TYPES + ("text/plain",), what="an RSS or Atom feed")
        data, base = fetched.data, fetched.url
    parsed = feedparser.parse(data)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise CorpusError(f"{source}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    entries = []
    for e in parsed.entries:
        link = urljoin(base, e.get("link", "")) if base else e.get("link", "")
        key = e.get("id") or link
        if not key:
            continue
        content = (e.get("content") or [{}])[0].get("value", "") or e.get("summary", "")
        stamp = e.get("published_parsed") or e.get("updated_parsed")
        published = f"{stamp.tm_year:04d}-{stamp.tm_mon:02d}-{stamp.tm_mday:02d}" if stamp else ""
        entries.append(FeedEntry(key, link, " ".join(e.get("title", "").split()), published, content))
    return source, " ".join(parsed.feed.get("title", "").split()), entries


def feed_folder(source: str) -> str:
    """`imported/feed-<host or file name>`: one folder per feed."""
    name = urlsplit(source).hostname if re.match(r"^https?://", source, re.I) else Path(source).stem
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{name}-{hashlib.sha256(source.encode()).hexdigest()[:6]}").strip("-").lower()
    return f"imported/{FEED_DIR_PREFIX}{slug}"


def entry_filename(entry: FeedEntry) -> str:
    return hashlib.sha256(entry.key.encode()).hexdigest()[:16] + ".md"


def import_feed(source: str, seeds_dir: Path, limits: FetchLimits) -> FeedImport:
    """The articles of the feed's entries not imported before (nothing is written here)."""
    source, title, entries = read_feed(source, limits)
    folder = feed_folder(source)
    result = FeedImport(folder, title)
    for entry in entries:
        name = f"{folder}/{entry_filename(entry)}"
        if (seeds_dir / name).is_file() or name in result.files:
            result.known += 1
            continue
        try:
            article = _entry_article(entry, limits)
        except CorpusError as exc:
            result.failed.append(f"{entry.title or entry.key}: {exc}")
            continue
        data = article.to_markdown()
        try:
            parse(name, data, ".md")  # one entry the cleaner finds no story in must not stop the others
        except CorpusError as exc:
            result.failed.append(f"{entry.title or entry.key}: {exc}")
            continue
        result.files[name] = data
    return result


def _entry_article(entry: FeedEntry, limits: FetchLimits) -> WebArticle:
    fetch_error: CorpusError | None = None
    if re.match(r"^https?://", entry.link, re.I):
        try:
            article = fetch_article(entry.link, limits)
            return WebArticle(article.url, article.title or entry.title, article.publisher,
                              article.date or entry.published, article.body)
        except CorpusError as exc:
            fetch_error = exc
    if entry.content_html:
        try:
            own = article_from_html(entry.link or entry.key, f"<html><body><article>{entry.content_html}</article></body></html>")
        except CorpusError:
            own = None
        if own is not None and len(own.body.split()) >= MIN_FEED_TEXT_WORDS:
            return WebArticle(entry.link, entry.title or own.title, urlsplit(entry.link).hostname or "",
                              entry.published, own.body)
    if fetch_error is not None:
        raise fetch_error
    raise CorpusError("the entry has no link to fetch and too little text of its own")
