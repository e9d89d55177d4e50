"""Turn a scraped news page into clean stories: strip web debris, keep every sentence of reporting.

Why our own code: trafilatura handles HTML, but these pages arrive as text already flattened by a
scraper (menus, share buttons and headline lists sit on their own lines, ads inside paragraphs).
The main story is found as the densest run of prose lines (body-text extraction, Finn et al. 2001);
a "Related articles" section is split into separate stories so that citations name the right one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.tunables import CleaningTunables

# Bump when cleaning output changes: indexes built by an older cleaner are rebuilt.
CLEANER_VERSION = 3

# Prose lines earn their word count above a baseline; shorter lines (menus, bylines, captions)
# cost. The word counts are Config.cleaning (rag/tunables.py, CleaningTunables).
_CLEANING = CleaningTunables()

_DEBRIS = json.loads((Path(__file__).parent.parent / "data" / "web_debris.json").read_text(encoding="utf-8"))


def _alternatives(phrases: list[str]) -> str:
    """A regex alternation of phrases, longest first, spaces matching any run of spaces."""
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))


_RELATED_MARKER = re.compile(rf"^\s*({_alternatives(_DEBRIS['related_headings'])})\s*:?\s*$", re.I)
_BOILERPLATE_WORDS = re.compile(rf"\b({_alternatives(_DEBRIS['boilerplate_words'])})\b", re.I)
# Debris inside a line of prose. Each pattern sits between sentences, never inside one.
_INLINE_DEBRIS = [
    # "…to Biarritz. Advertisement 'Glad to…'" → drop the ad label between sentences.
    re.compile(rf"(?:(?<=[.!?’'\"”…])|^)\s*(?:{_alternatives(_DEBRIS['ad_labels'])})(?=\s+[A-Z‘'\"“]|\s*$)"),
    # "Photo: TNS India has…" → a photo credit is one agency-like token (upper case or a known agency).
    re.compile(
        r"(?:(?<=[.!?’'\"”])|^)\s*(?:Photo|Image|Picture)(?: credit)?:\s*"
        rf"(?:[A-Z]{{2,}}(?:/[A-Z][\w]+)?|{_alternatives(_DEBRIS['photo_agencies'])})(?=\s+[A-Z])"
    ),
    re.compile(rf"\s*\((?:{_alternatives(_DEBRIS['caption_prefixes'])})\s*:[^)]*\)"),
]
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_MONTH_NUM = {m.lower()[:3]: i for i, m in enumerate(_MONTHS.split("|")[:12], start=1)}
_DATE_PATTERNS = [
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b"), "ymd"),
    (re.compile(rf"\b({_MONTHS})\.? (\d{{1,2}}),? ((?:19|20)\d\d)\b"), "mdy"),
    (re.compile(rf"\b(\d{{1,2}}) ({_MONTHS})\.?,? ((?:19|20)\d\d)\b"), "dmy"),
    (re.compile(rf"^\s*({_MONTHS}) ((?:19|20)\d\d)\s*$"), "my"),
]
_HEADER_FIELD = re.compile(r"^\s*(title|date|published|publisher|source|url|author)\s*:\s*(.+?)\s*$", re.I)
_DOMAIN = re.compile(r"\b([A-Za-z][\w-]*\.(?:com|eu|in|org|net|co\.uk|news|asia))\b")
_TIME_AGO = re.compile(r"^\s*\d+\s+(minutes?|hours?|days?|weeks?)\s+ago\s*$", re.I)
_WORD = re.compile(r"[A-Za-z0-9’'$%-]+")


@dataclass
class Story:
    title: str
    paragraphs: list[str]
    publisher: str = ""
    date: str = ""
    url: str = ""  # where the article was published, when the file says (a `url:` header line)
    # Capitalised words printed around the story (masthead, byline, tags): the page names them,
    # so a question mentioning "NewsX" is about this page even though the body never says it.
    aside_names: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass
class _Meta:
    title: str = ""
    date: str = ""
    publisher: str = ""
    url: str = ""


def clean_page(raw: str, *, title: str = "", date: str = "", publisher: str = "",
               tunables: CleaningTunables = _CLEANING) -> list[Story]:
    """Clean one page into its stories: the main story first, then any related stories.

    `title`, `date` and `publisher` come from the caller when the format carries them (HTML
    metadata, Markdown front matter) and win over what the text suggests.
    """
    text, header = _strip_header(_normalise(raw))
    meta = _Meta(
        title=title or header.get("title", ""),
        date=_normalise_date(date or header.get("date", "") or header.get("published", "")),
        publisher=publisher or header.get("publisher", "") or header.get("source", ""),
        url=header.get("url", "") or header.get("link", ""),
    )
    lines = text.split("\n")
    marker = next((i for i, ln in enumerate(lines) if _RELATED_MARKER.match(ln)), None)
    main_lines = lines if marker is None else lines[:marker]
    stories = []
    main = _main_story(main_lines, lines, meta, tunables)
    if main is not None:
        stories.append(main)
    if marker is not None:
        stories.extend(_related_stories(lines[marker + 1 :], tunables))
    return stories


def _normalise(raw: str) -> str:
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\ufeff", "")
    raw = re.sub(r"[ \t]+", " ", raw)
    return "\n".join(line.strip() for line in raw.split("\n"))


def _strip_header(text: str) -> tuple[str, dict[str, str]]:
    """Markdown front matter (--- key: value ---) or leading `Title:`/`Date:` lines."""
    header: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[0] == "---" and "---" in lines[1:]:
        end = lines.index("---", 1)
        for ln in lines[1:end]:
            key, _, value = ln.partition(":")
            if value.strip():
                header[key.strip().lower()] = value.strip().strip("\"'")
        return "\n".join(lines[end + 1 :]), header
    i = 0
    # A header line is short ("Date: 2025-05-07"); "Date: Thursday, July 29, 2021. Location: …" is prose.
    while i < len(lines) and (not lines[i] or (_HEADER_FIELD.match(lines[i]) and len(lines[i]) <= 160
                                                and not re.search(r"\.\s+\w+:", lines[i]))):
        m = _HEADER_FIELD.match(lines[i])
        if m:
            header[m.group(1).lower()] = m.group(2)
        i += 1
    if header:
        return "\n".join(lines[i:]), header
    return text, header


def _markdown_to_text(line: str) -> str:
    line = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", line)  # images
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # links keep their text
    line = re.sub(r"^#{1,6}\s+", "", line)
    line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
    return line.strip()


def _words(line: str) -> int:
    return len(_WORD.findall(line))


def _strip_inline_debris(line: str) -> str:
    for pattern in _INLINE_DEBRIS:
        line = pattern.sub("", line)
    return re.sub(r"\s{2,}", " ", line).strip()


def _is_body(line: str, t: CleaningTunables) -> bool:
    n = _words(line)
    if n < t.body_min_words:
        return False
    ends_like_prose = bool(re.search(r"[.!?:;’'\"”…)]$", line))
    return ends_like_prose or n >= t.body_unpunctuated_words


def _is_headline(line: str, t: CleaningTunables) -> bool:
    n = _words(line)
    if not t.headline_min_words <= n <= t.headline_max_words or line.endswith((".", ",", ":", ";")):
        return False
    if _BOILERPLATE_WORDS.search(line) or _TIME_AGO.match(line) or _find_date(line):
        return False
    return not line.startswith(("-", "•", "+", "©"))


def _main_story(lines: list[str], page_lines: list[str], meta: _Meta, t: CleaningTunables) -> Story | None:
    lines = [_markdown_to_text(_strip_inline_debris(ln)) for ln in lines]
    counts = Counter(ln for ln in lines if ln)
    # Score lines, then take the best-scoring contiguous run: the article body.
    scores = []
    for ln in lines:
        if not ln:
            scores.append(0.0)
        elif _is_body(ln, t):
            scores.append(float(_words(ln) - t.body_baseline))
        else:
            scores.append(-float(t.short_line_cost))
    start, end = _max_run(scores)
    if start is None:
        # No prose-length line at all (a note of short lines): keep whatever is not debris.
        kept = [ln for ln in lines if ln and not _BOILERPLATE_WORDS.search(ln)]
        # ...as long as something reads like a sentence: a menu ("Home / Settings") is not a story.
        if not any((re.search(r"[.!?’'\"”]$", ln) and _words(ln) >= t.note_sentence_min_words)
                   or _words(ln) >= t.note_line_min_words for ln in kept):
            return None
        start, end = lines.index(kept[0]), len(lines) - 1 - lines[::-1].index(kept[-1])
    title = meta.title or _title_before(lines, start, t)
    paragraphs: list[str] = []
    seen: set[str] = set()
    for i in range(start, end + 1):
        ln = lines[i]
        if not ln or ln in seen or ln == title:
            continue
        repeated = counts[ln] > 1
        if _is_body(ln, t):
            if repeated and _words(ln) < t.repeated_keep_min_words:
                continue  # a link card or teaser shown twice, not reporting
            paragraphs.append(ln)
        elif not repeated and (_is_section_heading(ln, lines, i, t) or scores[start] < 0):
            paragraphs.append(ln)
        seen.add(ln)
    if not paragraphs:
        return None
    body_span = set(range(start, end + 1))
    outside = [ln for i, ln in enumerate(page_lines) if i not in body_span]
    return Story(
        title=title or _fallback_title(paragraphs),
        paragraphs=paragraphs,
        publisher=meta.publisher or _publisher_from(outside),
        date=meta.date or _date_from(outside),
        url=meta.url,
        aside_names=sorted({w for ln in outside for w in re.findall(r"\b[A-Z][\w.]*[A-Za-z0-9]", ln)}),
    )


def _max_run(scores: list[float]) -> tuple[int | None, int]:
    best = 0.0
    best_span: tuple[int | None, int] = (None, -1)
    run, run_start = 0.0, 0
    for i, s in enumerate(scores):
        if run <= 0:
            run, run_start = 0.0, i
        run += s
        if run > best:
            best, best_span = run, (run_start, i)
    return best_span


def _next_nonblank(lines: list[str], i: int) -> str:
    return next((ln for ln in lines[i + 1 :] if ln), "")


def _is_section_heading(line: str, lines: list[str], i: int, t: CleaningTunables) -> bool:
    """A short line inside the body is kept when it heads the prose that follows it."""
    return (
        _words(line) <= t.section_heading_max_words
        and not _BOILERPLATE_WORDS.search(line)
        and not _find_date(line)
        and _is_body(_next_nonblank(lines, i), t)
    )


def _title_before(lines: list[str], start: int, t: CleaningTunables) -> str:
    for ln in reversed(lines[max(0, start - t.title_lookback_lines) : start]):
        if ln and _is_headline(ln, t):
            return ln
    return ""


def _fallback_title(paragraphs: list[str]) -> str:
    first = paragraphs[0]
    words = first.split()
    return " ".join(words[:12]) + ("…" if len(words) > 12 else "")


def _find_date(line: str) -> str:
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.search(line)
        if not m:
            continue
        g = m.groups()
        if kind == "ymd":
            return f"{g[0]}-{g[1]}-{g[2]}"
        if kind == "mdy":
            return f"{g[2]}-{_MONTH_NUM[g[0].lower()[:3]]:02d}-{int(g[1]):02d}"
        if kind == "dmy":
            return f"{g[2]}-{_MONTH_NUM[g[1].lower()[:3]]:02d}-{int(g[0]):02d}"
        return f"{g[1]}-{_MONTH_NUM[g[0].lower()[:3]]:02d}"
    return ""


def _normalise_date(value: str) -> str:
    return _find_date(value) or value.strip()


def _date_from(lines: list[str]) -> str:
    """A date printed around the story (dateline, "Published" line), never one from the prose."""
    labelled = [ln for ln in lines if re.match(r"^\s*(date|published|updated)\b", ln, re.I)]
    for ln in labelled + [ln for ln in lines if ln and _words(ln) <= 8]:
        found = _find_date(ln)
        if found:
            return found
    return ""


def _publisher_from(lines: list[str]) -> str:
    for ln in lines:
        m = _DOMAIN.search(ln)
        if m and _words(ln) <= 6:
            return m.group(1)
    return ""


def _related_stories(lines: list[str], t: CleaningTunables) -> list[Story]:
    """Each related story is a headline followed by prose; "- Publisher" sits above the headline."""
    lines = [_strip_inline_debris(ln) for ln in lines]
    stories: list[Story] = []
    current: Story | None = None
    pending_meta: list[str] = []
    for i, ln in enumerate(lines):
        if not ln:
            continue
        if _is_headline(ln, t) and _is_body(_next_nonblank(lines, i), t):
            current = Story(title=ln, paragraphs=[], publisher=_meta_publisher(pending_meta))
            stories.append(current)
            pending_meta = []
        elif _is_body(ln, t) and current is not None:
            current.paragraphs.append(ln)
        else:
            pending_meta.append(ln)
    # Headline lists ("Also read", "Entertainment") pair a title with a longer title: not a story.
    return [s for s in stories if sum(_words(p) for p in s.paragraphs) >= t.related_min_words]


def _meta_publisher(meta_lines: list[str]) -> str:
    for ln in reversed(meta_lines):
        if ln.startswith("- ") and _words(ln) <= 6:
            return ln[2:].strip()
    named = [ln for ln in meta_lines if not _TIME_AGO.match(ln) and _words(ln) <= 6]
    return named[-1] if named else ""
