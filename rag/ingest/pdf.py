"""PDF → one document with page offsets, through pypdf (pure Python, BSD).

pypdf gives the text of a page; what a reader of a report needs on top of it is ours:
- **Reading order.** pypdf's plain mode follows the content stream, which interleaves the lines of
  two columns when a PDF was written row by row. Its layout mode places text where it sits on the
  page, so columns stand side by side with a wide blank gutter between them; `_reading_order`
  finds that gutter and reads the left column before the right one (recursively: three columns).
- **Boilerplate.** Lines at the top or bottom of most pages (running heads, footers, "Page 3 of
  9") are dropped; so is a bare page number at a page's edge.
- **Hyphenation.** "break-\\nwater" becomes "breakwater", unless the hyphenated form is written
  unbroken elsewhere in the document ("well-known").
- **Pages.** The document's text joins the pages; `page_starts[i]` is where page i + 1 begins, so a
  citation's offset names its page.

Not handled: scanned pages (no text layer: refused with a message to run OCR), text in images,
columns whose gutter is narrower than `_GUTTER_SPACES` characters of the layout, tables (read row
by row as lines of text, cells separated by spaces), footnotes (kept where they sit), and right-
to-left scripts.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

from rag.errors import CorpusError

# Layout mode renders text on a character grid; a gutter is a run of at least this many blank
# characters between text on both sides. Word gaps are 1-2 (justified text); hand-set on fpdf2 and
# pypdf's own layouts of two- and three-column pages.
_GUTTER_SPACES = 3
_MIN_COLUMN_LINES = 3  # lines with text on both sides of a gutter before it counts as one
_MIN_COLUMN_CHARS = 15  # average text per side: narrower "columns" are table cells, left as lines
_EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be running heads or footers
_REPEATED_SHARE = 0.5  # an edge line on at least this share of the pages (and 2 or more) is boilerplate
# A paragraph's last line is shorter than this share of the column's longest line (hand-set).
_SHORT_LINE_SHARE = 0.7

_GAP = re.compile(rf"(?<=\S) {{{_GUTTER_SPACES},}}(?=\S)")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(]?\s*\d{1,4}\s*[-–—)]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_SENTENCE_END = re.compile(r"[.!?:;’'\"”)\]]$")
_HYPHENATED = re.compile(r"([A-Za-zÀ-ÿ]+)[-\u00ad]$")


@dataclass(frozen=True)
class PdfText:
    text: str
    page_starts: tuple[int, ...]  # offset in text where each page begins
    pages: int
    title: str = ""
    author: str = ""
    date: str = ""  # YYYY-MM-DD, from the PDF's creation date


def read_pdf(source: str, data: bytes) -> PdfText:
    """The cleaned text of a PDF with its page offsets; CorpusError for an encrypted, damaged or
    image-only file (nothing is indexed from it)."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An owner password alone (printing/copying restrictions) still opens with an empty user password.
            try:
                opened = bool(reader.decrypt(""))
            except (DependencyError, NotImplementedError):
                opened = False
            if not opened:
                raise CorpusError(f"{source}: this PDF is encrypted and needs a password; save an unprotected copy "
                                  "(e.g. print it to PDF) and add that")
        raw_pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
        meta = reader.metadata
    except FileNotDecryptedError as exc:
        raise CorpusError(f"{source}: this PDF is encrypted and needs a password; save an unprotected copy") from exc
    except (PyPdfError, PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{source}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not raw_pages:
        raise CorpusError(f"{source}: the PDF has no pages")
    if not any(p.strip() for p in raw_pages):
        raise CorpusError(f"{source}: this PDF has no text layer; run OCR first (it is a scan or pictures of "
                          "text: e.g. ocrmypdf makes a searchable copy) and add the result")
    # Running heads and footers are found at the page's visual edges, before columns are reordered.
    pages = [_reading_order(lines) for lines in _drop_boilerplate([p.split("\n") for p in raw_pages])]
    text, starts = _join_pages([_paragraphs(lines) for lines in pages])
    if not text.strip():
        raise CorpusError(f"{source}: no text left in the PDF after removing running heads and page numbers")
    title = _meta_str(meta, "title")
    if not title or re.match(r"^(microsoft word - |untitled)", title, re.I):
        title = next((ln.strip() for p in pages for ln in p if ln.strip()), "")[:200]
    return PdfText(text, tuple(starts), len(raw_pages), title, _meta_str(meta, "author"), _meta_date(meta))


def _meta_str(meta: object, name: str) -> str:
    try:
        value = getattr(meta, name, None) if meta is not None else None
    except Exception:  # a malformed info dictionary must not lose the text
        return ""
    return " ".join(str(value).split()) if value else ""


def _meta_date(meta: object) -> str:
    try:
        created = meta.creation_date if meta is not None else None  # type: ignore[attr-defined]
    except Exception:
        return ""
    return created.date().isoformat() if created else ""


# -- reading order -------------------------------------------------------------------------------
def _reading_order(lines: list[str], depth: int = 0) -> list[str]:
    """Lines in reading order: a block of columns becomes its left column, then its right."""
    lines = [ln.rstrip() for ln in lines]
    gutter = _gutter(lines) if depth < 3 else None
    if gutter is None:
        return lines
    two_sided = [i for i, ln in enumerate(lines) if _splits_at(ln, gutter)]
    first, last = two_sided[0], two_sided[-1]
    # A column's first or last lines may have nothing beside them: extend over lines that stay
    # clear of the gutter (a full-width line stops it).
    while first > 0 and not _crosses(lines[first - 1], gutter):
        first -= 1
    while last + 1 < len(lines) and not _crosses(lines[last + 1], gutter):
        last += 1
    block = lines[first : last + 1]
    left = [ln[:gutter] for ln in block]
    right = [ln[gutter:] for ln in block]
    return (lines[:first] + _reading_order(left, depth + 1) + [""]
            + _reading_order(right, depth + 1) + lines[last + 1 :])


def _crosses(line: str, g: int) -> bool:
    return len(line) > g and line[g] != " "


def _splits_at(line: str, g: int) -> bool:
    """Text on both sides of a blank run of at least _GUTTER_SPACES characters covering column g."""
    if len(line) <= g or line[g] != " ":
        return False
    a, b = g, g
    while a > 0 and line[a - 1] == " ":
        a -= 1
    while b < len(line) and line[b] == " ":
        b += 1
    return a > 0 and b < len(line) and b - a >= _GUTTER_SPACES


def _gutter(lines: list[str]) -> int | None:
    """The character column most lines leave blank between two runs of text, if any."""
    width = max((len(ln) for ln in lines), default=0)
    counts: Counter[int] = Counter()
    for ln in lines:
        for m in _GAP.finditer(ln):
            counts.update(range(m.start(), m.end()))
    candidates = [(n, g) for g, n in counts.items() if width * 0.2 <= g <= width * 0.8 and n >= _MIN_COLUMN_LINES]
    if not candidates:
        return None
    n, _ = max(candidates)
    # The middle of the widest stretch of columns with that count: the gutter's centre.
    best = sorted(g for c, g in candidates if c == n)
    run = max(_runs(best), key=len)
    g = run[len(run) // 2]
    sided = [ln for ln in lines if _splits_at(ln, g)]
    left = sum(len(ln[:g].strip()) for ln in sided) / len(sided)
    right = sum(len(ln[g:].strip()) for ln in sided) / len(sided)
    return g if min(left, right) >= _MIN_COLUMN_CHARS else None


def _runs(sorted_ints: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for x in sorted_ints:
        if runs and x == runs[-1][-1] + 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


# -- boilerplate -----------------------------------------------------------------------------------
def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _drop_boilerplate(pages: list[list[str]]) -> list[list[str]]:
    """Without the lines repeated at the top or bottom of most pages, and bare page numbers."""
    edges: list[set[int]] = []
    for lines in pages:
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        edges.append(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))
    seen: Counter[str] = Counter()
    for lines, at in zip(pages, edges):
        seen.update({_edge_key(lines[i]) for i in at})
    threshold = max(2.0, _REPEATED_SHARE * len(pages))
    out = []
    for lines, at in zip(pages, edges):
        out.append([ln for i, ln in enumerate(lines)
                    if not (i in at and (seen[_edge_key(ln)] >= threshold or _PAGE_NUMBER.match(ln.strip())))])
    return out


# -- paragraphs and pages ------------------------------------------------------------------------
def _paragraphs(lines: list[str]) -> list[str]:
    """A page's lines as paragraphs: a blank line or a short line ending a sentence closes one."""
    stripped = [" ".join(ln.split()) for ln in lines]
    longest = max((len(s) for s in stripped), default=0)
    paragraphs: list[list[str]] = [[]]
    for s in stripped:
        if not s:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(s)
        if _SENTENCE_END.search(s) and len(s) < _SHORT_LINE_SHARE * longest:
            paragraphs.append([])
    return [_join_lines(p) for p in paragraphs if p]


def _join_lines(lines: list[str]) -> str:
    out = lines[0]
    for nxt in lines[1:]:
        m = _HYPHENATED.search(out)
        if m and nxt[:1].islower():
            out = out[: m.end(1)] + "\u2063" + nxt  # a mark for _unhyphenate, which sees the whole document
        else:
            out = f"{out} {nxt}"
    return out


def _join_pages(pages: list[list[str]]) -> tuple[str, list[int]]:
    """One text from the pages' paragraphs, and where each page starts in it. A sentence carried
    over a page break is joined with a space, not split into two paragraphs."""
    text, starts = "", []
    for paragraphs in pages:
        body = "\n\n".join(paragraphs)
        if text and body:
            carried = not _SENTENCE_END.search(text) and body[:1].islower()
            text += " " if carried else "\n\n"
        starts.append(len(text))
        text += body
    # Hyphens are resolved last (joining can only shorten text before a later page's start, so
    # the page offsets are shifted by what was removed before them).
    return _unhyphenate(text, starts)


def _unhyphenate(text: str, starts: list[int]) -> tuple[str, list[int]]:
    unbroken = set(re.findall(r"\b[A-Za-zÀ-ÿ]+-[A-Za-zÀ-ÿ]+\b", text.replace("\u2063", "")))
    out, removed, shifts = [], 0, []
    pos = 0
    for m in re.finditer(r"([A-Za-zÀ-ÿ]+)\u2063([A-Za-zÀ-ÿ]*)", text):
        out.append(text[pos : m.start()])
        word = f"{m.group(1)}-{m.group(2)}"
        keep_hyphen = word in unbroken
        out.append(m.group(1) + ("-" if keep_hyphen else "") + m.group(2))
        removed += 0 if keep_hyphen else 1
        shifts.append((m.end(), removed))
        pos = m.end()
    out.append(text[pos:])
    joined = "".join(out)

    def shifted(offset: int) -> int:
        return offset - max((r for end, r in shifts if end <= offset), default=0)

    return joined, [shifted(s) for s in starts]
