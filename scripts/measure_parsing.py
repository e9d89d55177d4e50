"""Parsing time per file and per page for every format Dossier reads (no model, no index).

    .venv/bin/python scripts/measure_parsing.py [--repeat 5]

The documents are made on the spot from the seed articles' text: PDFs of 20 pages in one and two
columns (with a running head and page numbers), a DOCX with the same paragraphs and a table, the
text as UTF-8 and as Windows-1252, a saved HTML page, and the same page fetched from a local HTTP
server (fetch + extraction). Each figure is the median of --repeat runs of `rag.ingest.loaders.parse`
(or `Pipeline.add_link`'s fetch and extraction); baselines in the same run: pypdf's plain
`extract_text` per page (the library's floor), and the UTF-8 .txt file for the other formats.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from rag.ingest.loaders import corpus_files, parse  # noqa: E402
from rag.ingest.web import FetchLimits, fetch_article  # noqa: E402

_ASCII = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "...", "\u00a0": " "})


def seed_paragraphs() -> list[str]:
    paras = []
    for path in corpus_files(ROOT / "seeds"):
        for doc in parse(path.name, path.read_bytes(), path.suffix):
            paras += [p for p in doc.text.split("\n\n") if len(p.split()) > 12]
    return [p.translate(_ASCII).encode("latin-1", "replace").decode("latin-1") for p in paras]


def news_pdf(paragraphs: list[str], pages: int, columns: int) -> bytes:
    from fpdf import FPDF

    width = 90 if columns == 1 else 42
    lines = [ln for p in paragraphs for ln in [*textwrap.wrap(p, width), ""]]
    per_column, col_x = 40, [20, 108]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    at = 0
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "I", 9)
        pdf.set_xy(20, 10)
        pdf.cell(170, 6, "Dossier test bulletin - regional defence news")
        pdf.set_font("Helvetica", size=10)
        for row in range(per_column):  # row by row across the columns, as some writers do
            for c in range(columns):
                line = lines[(at + c * per_column + row) % len(lines)]
                pdf.set_xy(col_x[c], 22 + row * 6)
                pdf.cell(82 if columns == 2 else 170, 6, line)
        at += per_column * columns
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(95, 280)
        pdf.cell(20, 6, f"Page {n} of {pages}")
    return bytes(pdf.output())


def news_docx(paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph("Regional defence news", style="Title")
    for i, p in enumerate(paragraphs):
        if i % 8 == 0:
            d.add_heading(f"Section {i // 8 + 1}", level=1)
        d.add_paragraph(p)
    table = d.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Item", "Value", "Note")):
        cell.text = text
    for i in range(30):
        for cell, text in zip(table.add_row().cells, (f"item {i}", str(i * 7), "measured")):
            cell.text = text
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def news_html(paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>Regional defence news</title><meta property='og:site_name' content='Test'></head>"
            f"<body><nav>Home | World | Sport</nav><article><h1>Regional defence news</h1>{body}</article>"
            f"<footer>Subscribe</footer></body></html>").encode()


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm: imports and compiled patterns are paid once per process, not per file
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pages", type=int, default=20)
    args = ap.parse_args()
    from pypdf import PdfReader

    paras = seed_paragraphs()
    # Accented names, so that the cp1252 copy is not valid UTF-8 and goes through detection.
    accents = "The café owner, Señor José Müller of Tromsø, said the façade would be restored à la française."
    text = "Title: Regional defence news\n\n" + "\n\n".join([accents, *paras, accents]) + "\n"
    files = {
        "txt (UTF-8)": (".txt", text.encode("utf-8")),
        "txt (Latin-1 bytes, detected)": (".txt", text.encode("cp1252")),
        "html (saved page)": (".html", news_html(paras)),
        "docx": (".docx", news_docx(paras)),
        f"pdf, 1 column, {args.pages} pages": (".pdf", news_pdf(paras, args.pages, 1)),
        f"pdf, 2 columns, {args.pages} pages": (".pdf", news_pdf(paras, args.pages, 2)),
    }
    rows = []
    base = None
    for label, (suffix, data) in files.items():
        secs = median_seconds(lambda s=suffix, d=data: parse(f"bench{s}", d, s), args.repeat)
        [doc] = parse(f"bench{suffix}", data, suffix)[:1]
        base = base or secs
        pages = len(doc.page_starts) or None
        if doc.encoding not in ("", "utf-8"):
            label += f" [{doc.encoding}]"
        rows.append((label, len(data), len(doc.text), secs, secs / pages if pages else None, secs / base))
    for label, (suffix, data) in files.items():
        if suffix == ".pdf":
            secs = median_seconds(lambda d=data: [p.extract_text() for p in PdfReader(io.BytesIO(d)).pages], args.repeat)
            rows.append((f"  baseline: pypdf plain extract_text, {label[5:]}", len(data), 0, secs, secs / args.pages, secs / base))

    page = news_html(paras)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/story"
    secs = median_seconds(lambda: fetch_article(url, FetchLimits(timeout=5)), args.repeat)
    rows.append(("web link (local server: fetch + extract)", len(page), 0, secs, None, secs / base))
    server.shutdown()

    print(f"median of {args.repeat} runs; ratio against the UTF-8 .txt file in this run\n")
    print(f"{'format':<52} {'bytes':>9} {'chars out':>9} {'per file':>10} {'per page':>10} {'ratio':>7}")
    for label, size, chars, secs, per_page, ratio in rows:
        pp = f"{per_page * 1000:8.1f}ms" if per_page else f"{'':>10}"
        print(f"{label:<52} {size:>9,} {chars or '':>9} {secs * 1000:8.1f}ms {pp} {ratio:7.1f}")


if __name__ == "__main__":
    main()
