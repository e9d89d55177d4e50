"""HTML for the browser chat: answers with citation links, source cards, the documents table.

Every string that comes from an article, a file name or the user goes through `esc` here, so a
document holding `<script>` or `onerror=` shows as text. The output is one line of HTML with no
blank lines: were it ever run through Markdown, a blank line would end the raw-HTML block and
let article text be read as Markdown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rag.schema import Answer, Citation, DocRecord, Passage, ShortAnswer

# Characters of article text shown either side of a cited sentence on its card.
CONTEXT_CHARS = 220
# Closest passages shown when the answer abstains, and how much of each.
CLOSEST_PASSAGES = 3
PASSAGE_CHARS = 360
_MARKER = re.compile(r"\[(\d+)\]")


def esc(text: object) -> str:
    """Escape for HTML text and attribute values, and fold all whitespace (no blank lines)."""
    return html.escape(" ".join(str(text).split()), quote=True)


# -- chat messages ---------------------------------------------------------------------------
def user_html(question: str) -> str:
    return f'<div class="dz-user">{esc(question)}</div>'


def streaming_html(text: str) -> str:
    """The answer while it is still being written: plain escaped text and a cursor."""
    # Markers look like the final ones already; they become links once the citations arrive.
    marked = _MARKER.sub(r'<span class="dz-cite">[\1]</span>', esc(text))
    return f'<div class="dz-answer dz-streaming"><p class="dz-text">{marked}<span class="dz-cursor">▍</span></p></div>'


def pending_html() -> str:
    return '<div class="dz-answer dz-streaming"><p class="dz-text dz-muted">Searching the articles…</p></div>'


def error_html(message: str) -> str:
    return f'<div class="dz-answer dz-error dz-done" role="alert"><p>⚠ {esc(message)}</p></div>'


def answer_html(answer: Answer, turn: str) -> str:
    """The finished answer: the direct answer in bold (when there is one), the text with linked
    [n] markers, then one card per cited document.

    `turn` makes the anchor ids unique within the page (several answers share one chat).
    """
    prefix = f"dz-{re.sub(r'[^A-Za-z0-9_-]', '', turn)}"
    parts = [f'<div class="dz-answer dz-done{" dz-abstained" if answer.abstained else ""}">']
    if answer.query and answer.query.strip() != answer.question.strip():
        parts.append(f'<p class="dz-query">Searched for: <q>{esc(answer.query)}</q></p>')
    groups = group_citations(answer.citations)
    anchor = {n: f"{prefix}-c{g.excerpt_of[n]}" for g in groups for n in g.numbers}
    by_n = {c.n: c for c in answer.citations}
    if answer.short is not None:
        parts.append(short_html(answer.short, anchor, by_n))
    parts.append(f'<p class="dz-text">{_linked_text(answer.text, anchor, by_n)}</p>')
    parts.extend(f'<p class="dz-note">{esc(note)}</p>' for note in answer.notes)
    if groups:
        parts.append('<div class="dz-sources"><p class="dz-sources-head">Sources</p>')
        parts.extend(_card(g, prefix) for g in groups)
        parts.append("</div>")
    elif answer.passages:
        parts.append('<div class="dz-sources dz-closest"><p class="dz-sources-head">Closest passages (they do not answer the question)</p>')
        parts.extend(_passage_card(p) for p in answer.passages[:CLOSEST_PASSAGES])
        parts.append("</div>")
    if answer.timings.get("total") is not None:
        parts.append(f'<p class="dz-timing">{esc(answer.mode_used)} · {answer.timings["total"]:.2f} s</p>')
    parts.append("</div>")
    return "".join(parts)


def short_html(short: ShortAnswer, anchor: dict[int, str], by_n: dict[int, Citation]) -> str:
    """The direct answer ("26", "April 22") in bold, with the [n] of the sentence it comes from."""
    marker = _linked_text(f"[{short.citation}]", anchor, by_n) if short.citation in anchor else ""
    return f'<p class="dz-short"><strong>{esc(short.text)}</strong>{" " + marker if marker else ""}</p>'


@dataclass
class SourceGroup:
    """One cited document and its cited sentences; a sentence cited under two numbers shows once."""

    first: Citation
    excerpts: list[tuple[list[int], Citation]] = field(default_factory=list)
    excerpt_of: dict[int, int] = field(default_factory=dict)  # citation number -> excerpt's first number

    @property
    def numbers(self) -> list[int]:
        return [n for ns, _ in self.excerpts for n in ns]


def group_citations(citations: Iterable[Citation]) -> list[SourceGroup]:
    """Cards in order of first citation: one per document, one excerpt per distinct sentence."""
    groups: dict[str, SourceGroup] = {}
    for c in sorted(citations, key=lambda c: c.n):
        g = groups.setdefault(c.doc_id or c.source or c.title, SourceGroup(first=c))
        for numbers, seen in g.excerpts:
            if (seen.start, seen.end, seen.snippet) == (c.start, c.end, c.snippet):
                numbers.append(c.n)
                g.excerpt_of[c.n] = numbers[0]
                break
        else:
            g.excerpts.append(([c.n], c))
            g.excerpt_of[c.n] = c.n
    return list(groups.values())


def _linked_text(text: str, anchor: dict[int, str], by_n: dict[int, Citation]) -> str:
    """Escaped answer text whose [n] markers link to their card and show the source on hover."""

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in anchor:
            return m.group(0)  # a bracketed number in the article text, not a citation
        c = by_n[n]
        meta = " · ".join(esc(x) for x in (c.publisher, c.date, page_label(c.page)) if x)
        tip = f"<b>{esc(c.title or c.source)}</b>{' · ' + meta if meta else ''}<br>{esc(_clip(c.snippet, 240))}"
        return (
            f'<span class="dz-cite-wrap"><a class="dz-cite" href="#{anchor[n]}">[{n}]</a>'
            f'<span class="dz-tip" role="tooltip">{tip}</span></span>'
        )

    return _MARKER.sub(link, esc(text))


def _meta(publisher: str, date: str, source: str, url: str = "") -> str:
    # Only web addresses become links: a "javascript:" or "file:" url in an imported record stays text.
    link = url if re.match(r"https?://", url, re.I) else ""
    bits = [f'<span class="dz-pub">{esc(publisher)}</span>' if publisher else "",
            f'<span class="dz-date">{esc(date)}</span>' if date else "",
            f'<span class="dz-file">{esc(source)}</span>' if source else "",
            f'<a class="dz-url" href="{esc(link)}" target="_blank" rel="noopener noreferrer">original article</a>' if link else ""]
    return '<p class="dz-meta">' + " · ".join(b for b in bits if b) + "</p>"


def page_label(page: int | None) -> str:
    """ "p. 3" for a cited page of a PDF; "" for formats without pages."""
    return f"p. {page}" if page else ""


def _page_html(page: int | None) -> str:
    return f' <span class="dz-page">{page_label(page)}</span>' if page else ""


def _card(group: SourceGroup, prefix: str) -> str:
    c = group.first
    numbers = "".join(f'<span class="dz-n">[{n}]</span>' for n in group.numbers)
    excerpts = "".join(
        f'<blockquote class="dz-snippet" id="{prefix}-c{ns[0]}">'
        f'<span class="dz-snippet-n">{"".join(f"[{n}]" for n in ns)}</span>{_page_html(cit.page)} {highlighted(cit)}</blockquote>'
        for ns, cit in group.excerpts
    )
    return (
        f'<div class="dz-card"><p class="dz-card-title">{numbers} {esc(c.title or c.source)}</p>'
        f"{_meta(c.publisher, c.date, c.source, c.url)}{excerpts}</div>"
    )


def _passage_card(p: Passage) -> str:
    return (
        f'<div class="dz-card dz-passage"><p class="dz-card-title">{esc(p.chunk.title or p.source)}</p>'
        f'{_meta(p.publisher, p.date, p.source)}<blockquote class="dz-snippet">{esc(_clip(p.chunk.text, PASSAGE_CHARS))}</blockquote></div>'
    )


def highlighted(c: Citation, radius: int = CONTEXT_CHARS) -> str:
    """The cited sentence in <mark>, with some of the passage around it for context."""
    context, snippet = c.context or "", c.snippet
    at = c.start - c.context_start
    if not (at >= 0 and context[at : at + len(snippet)] == snippet):
        at = context.find(snippet) if snippet else -1
    if at < 0:
        return f"<mark>{esc(snippet)}</mark>"
    before, after = context[max(0, at - radius) : at], context[at + len(snippet) : at + len(snippet) + radius]
    if at - radius > 0:
        before = "…" + re.sub(r"^\S*\s", "", before)  # start on a word boundary
    if at + len(snippet) + radius < len(context):
        after = re.sub(r"\s\S*$", "", after) + "…"
    # esc() folds whitespace; keep the single space that separated the sentences.
    lead = " " if before[-1:].isspace() else ""
    trail = " " if after[:1].isspace() else ""
    return f"{esc(before)}{lead}<mark>{esc(snippet)}</mark>{trail}{esc(after)}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


# -- status line and documents tab -----------------------------------------------------------
def status_html(documents: int, chunks: int, model: str, mode: str) -> str:
    return (
        f'<div class="dz-status"><b>{documents:,}</b> documents · <b>{chunks:,}</b> chunks indexed · '
        f"embeddings <code>{esc(model)}</code> · answers <code>{esc(mode)}</code></div>"
    )


def documents_html(records: Sequence[DocRecord]) -> str:
    if not records:
        return '<p class="dz-muted">No documents indexed yet. Upload .txt, .md, .html, .pdf or .docx articles below.</p>'
    rows = "".join(
        f"<tr><td>{esc(d.title)}</td><td>{esc(d.publisher)}</td><td>{esc(d.date)}</td>"
        f'<td class="dz-num">{len(d.chunk_ids)}</td><td><code>{esc(d.source)}</code></td></tr>'
        for d in records
    )
    return (
        '<table class="dz-docs"><thead><tr><th>Title</th><th>Publisher</th><th>Date</th>'
        f"<th>Chunks</th><th>File</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def message_html(ok: Sequence[str], failed: Sequence[str]) -> str:
    """Result of an upload or removal: one line per file."""
    lines = [f'<li class="dz-ok">✓ {esc(m)}</li>' for m in ok] + [f'<li class="dz-fail">✗ {esc(m)}</li>' for m in failed]
    return f'<ul class="dz-result">{"".join(lines)}</ul>' if lines else ""


def size_label(n_bytes: int) -> str:
    """A byte count for people, in decimal units as the limits are set: 5 MB, 250 KB."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes} bytes"


def upload_limit_script(max_bytes: int) -> str:
    """A <script> for the page's head: a file over `max_bytes`, chosen for or dropped on the upload
    box (#dz-upload), is taken out before Gradio sends it, with one line naming the limit and its
    setting under the box; the other files go on as chosen.

    Why not Gradio's own check (launch's max_file_size): over it, Gradio shows only a toast naming
    its limit in MiB ("9.5 Mb" for 10,000,000 bytes) and no setting, and the Add button then says
    no file was chosen; under it, the whole file is sent before the pipeline refuses it.
    """
    return (
        "<script>(() => {\n"
        f"  const LIMIT = {int(max_bytes)};\n"
        """  const fmt = (n) => n.toLocaleString("en-US");
  const line = (f) => `${f.name}: ${fmt(f.size)} bytes is over the ${fmt(LIMIT)}-byte upload limit (RAG_MAX_FILE_BYTES); it was not uploaded`;
  function show(zone, big) {
    let box = document.getElementById("dz-upload-refused");
    if (!box && !big.length) return;
    if (!box) {
      box = document.createElement("ul");
      box.id = "dz-upload-refused";
      box.className = "dz-result";
      zone.after(box);
    }
    box.replaceChildren(...big.map((f) => {
      const li = document.createElement("li");
      li.className = "dz-fail";
      li.textContent = "\u2717 " + line(f);  // textContent: a file name is never read as HTML
      return li;
    }));
  }
  function screen(event, zone, files) {
    const big = files.filter((f) => f.size > LIMIT);
    show(zone, big);
    if (!big.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();  // Gradio never sees this selection or drop
    const input = zone.querySelector("input[type=file]");
    const kept = new DataTransfer();
    files.filter((f) => f.size <= LIMIT).forEach((f) => kept.items.add(f));
    input.files = kept.files;
    if (!kept.files.length) {
      input.value = "";
      return;
    }
    const again = new Event("change", {bubbles: true});
    again.dzScreened = true;
    input.dispatchEvent(again);
  }
  // Capture phase on window: runs before the upload box's own handlers.
  window.addEventListener("change", (e) => {
    const zone = e.target.closest && e.target.closest("#dz-upload");
    if (zone && e.target.type === "file" && !e.dzScreened) screen(e, zone, [...e.target.files]);
  }, true);
  window.addEventListener("drop", (e) => {
    const zone = e.target.closest && e.target.closest("#dz-upload");
    if (zone && e.dataTransfer) screen(e, zone, [...e.dataTransfer.files]);
  }, true);
})();</script>"""
    )


CSS = """
.dz-status { font-size: 0.92em; color: var(--body-text-color-subdued); }
.dz-muted, .dz-timing, .dz-note, .dz-query { color: var(--body-text-color-subdued); font-size: 0.9em; }
.dz-query q { font-style: italic; }
.dz-answer p { margin: 0.25em 0; }
.dz-text { line-height: 1.55; }
.dz-short { font-size: 1.08em; line-height: 1.45; }
.dz-cursor { animation: dz-blink 1s steps(2) infinite; }
@keyframes dz-blink { to { visibility: hidden; } }
.dz-error { color: var(--error-text-color, #b91c1c); }
.dz-cite-wrap { position: relative; }
.dz-cite { font-size: 0.8em; vertical-align: super; text-decoration: none; font-weight: 600;
  color: var(--color-accent, #2563eb) !important; padding: 0 1px; }
.dz-tip { display: none; position: absolute; left: 0; top: 1.5em; z-index: 20; width: min(26em, 70vw);
  padding: 0.5em 0.7em; border-radius: 6px; font-size: 0.85em; line-height: 1.4; font-weight: normal;
  background: var(--background-fill-primary); color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); box-shadow: 0 4px 14px rgba(0,0,0,0.18); }
.dz-cite-wrap:hover .dz-tip, .dz-cite:focus + .dz-tip { display: block; }
.dz-sources { margin-top: 0.7em; display: flex; flex-direction: column; gap: 0.5em; }
.dz-sources-head { font-weight: 600; font-size: 0.9em; margin: 0; }
.dz-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.75em;
  background: var(--background-fill-secondary); }
.dz-card-title { font-weight: 600; margin: 0; }
.dz-n { color: var(--color-accent, #2563eb); margin-right: 0.2em; }
.dz-meta { font-size: 0.82em; color: var(--body-text-color-subdued); margin: 0.1em 0 0.3em; }
.dz-file { font-family: var(--font-mono); }
.dz-snippet { margin: 0.3em 0 0; padding: 0.1em 0 0.1em 0.7em; border-left: 3px solid var(--border-color-primary);
  font-size: 0.9em; line-height: 1.5; scroll-margin-top: 4em; }
.dz-snippet:target { border-left-color: var(--color-accent, #2563eb); background: var(--background-fill-primary); }
.dz-snippet-n { font-weight: 600; color: var(--color-accent, #2563eb); }
.dz-page { font-size: 0.85em; font-weight: 600; opacity: 0.75; }
.dz-snippet mark { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 2px; }
.dz-docs { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.dz-docs th, .dz-docs td { text-align: left; padding: 0.3em 0.5em; border-bottom: 1px solid var(--border-color-primary); }
.dz-num { text-align: right !important; }
.dz-result { list-style: none; padding: 0; margin: 0; }
.dz-fail { color: var(--error-text-color, #b91c1c); }
#dz-examples button { font-size: 0.85em; }
"""
