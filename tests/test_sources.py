"""Every new kind of source through the real pipeline (MiniLM, Chroma on disk): PDF, Word and
Latin-1 files in the seeds folder, web links and an RSS feed served by a local HTTP server on
127.0.0.1 (never the internet), and the refusals that must leave the index as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import format_fixtures as ff
import pytest
from conftest import make_config

from rag.errors import CorpusError
from rag.ingest.loaders import load_file
from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

NEWS = {
    "1": ("Ferry strike ends in Bodø", "<p>The ferry workers of Bodø ended their strike on Thursday after the operator agreed to "
          "a pay rise of four per cent. Crossings to the islands will run to the normal timetable from Saturday, the union said.</p>"
          "<p>Passengers had waited for up to six hours at the quay during the nine days of the strike.</p>"),
    "2": ("Salmon farm fined over escape", "<p>A salmon farm near Alta was fined 3.5 million kroner on Wednesday after forty thousand "
          "fish escaped through a torn net in May. Inspectors said the net had not been checked for three months.</p>"
          "<p>The company said it would appeal against the size of the fine.</p>"),
    "3": ("Reindeer cross the new bridge", "<p>Herders in Karasjok moved two thousand reindeer across the new Tana bridge on Monday, "
          "the first crossing since it opened. The bridge has a fenced lane for animals that the herders had asked for.</p>"),
}
# An entry whose page is gone: the feed's own text is long enough to stand in for it.
GONE_SUMMARY = ("The tourist board of Hammerfest counted eighty-one cruise calls this year, a record for the town, and "
                "expects more next year as two new berths open at the quay. Shops near the harbour said the busiest "
                "days brought three thousand visitors, and the board plans a second information office for the season.")


def page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><title>{title}</title><meta property='og:site_name' content='Nordic Wire'>"
            f"</head><body><nav>Home News Sport</nav><article><h1>{title}</h1>{body}</article></body></html>").encode()


def rss(base: str, items: list[tuple[str, str, str, str]]) -> bytes:
    entries = "".join(f"<item><title>{t}</title><link>{base}{link}</link><guid>{guid}</guid>"
                      f"<pubDate>Mon, 02 Jun 2025 08:00:00 GMT</pubDate><description>{summary}</description></item>"
                      for guid, t, link, summary in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Nordic Wire</title>'
            f"<link>{base}/</link><description>News</description>{entries}</channel></rss>").encode()


class Site:
    """A local web server: saved pages, a redirect, a 404, a slow page, a PDF, a redirect loop, a feed."""

    def __init__(self) -> None:
        self.feed_items = [("n1", NEWS["1"][0], "/news/1", "Strike over."), ("n2", NEWS["2"][0], "/news/2", "A fine.")]
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                p = self.path
                if p == "/story":
                    self.send(200, "text/html; charset=utf-8", ff.LINKED_PAGE.encode())
                elif p == "/old":
                    self.redirect("/story")
                elif p in ("/loop", "/loop2"):
                    self.redirect("/loop2" if p == "/loop" else "/loop")
                elif p == "/slow":
                    time.sleep(4)
                    self.send(200, "text/html", page("Late", "<p>Too late.</p>"))
                elif p == "/report.pdf":
                    self.send(200, "application/pdf", ff.running_header_pdf())
                elif p == "/feed.xml":
                    self.send(200, "application/rss+xml", rss(site.base, site.feed_items))
                elif p.startswith("/news/") and p[6:] in NEWS:
                    self.send(200, "text/html; charset=utf-8", page(*NEWS[p[6:]]))
                else:
                    self.send(404, "text/html", b"<html><body>Not found</body></html>")

            def redirect(self, to: str) -> None:
                self.send_response(302)
                self.send_header("Location", to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def send(self, code: int, ctype: str, body: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def site():
    s = Site()
    yield s
    s.server.shutdown()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder) -> Pipeline:
    """A pipeline over a folder holding only the format fixtures."""
    tmp = tmp_path_factory.mktemp("formats")
    ff.write_all(tmp / "seeds")
    return Pipeline(make_config(tmp, seeds=tmp / "seeds", fetch_timeout=1), embedder=embedder).warm_up()


def cited(pipeline: Pipeline, question: str, source: str):
    answer = pipeline.ask(question)
    assert not answer.abstained, (question, answer.text)
    assert answer.citations[0].source == source, [(c.source, c.snippet) for c in answer.citations]
    return answer, answer.citations[0]


@pytest.mark.parametrize(("question", "source", "page", "words"), [
    ("How much money did the mayor of Vardø promise for the boats?", "harbour-bulletin.pdf", 2, "two million kroner"),
    ("When will the dredging of the Kirkenes channel start?", "ports-review.pdf", 3, "September"),
    ("How large is Narvik's ferry grant?", "ferry-budgets.docx", None, "NOK 17 million"),
    ("Who runs the Café Øresund in Tromsø?", "cafe-latin1.txt", None, "José Müller"),
])
def test_each_format_answers_and_cites_its_page_or_span(pipeline, question, source, page, words):
    _, c = cited(pipeline, question, source)
    assert words in c.snippet and c.page == page
    [doc] = load_file(pipeline.config.seeds_dir / source, pipeline.config.seeds_dir)
    assert doc.text[c.start : c.end] == c.snippet  # offsets exact into the cleaned text
    assert doc.page_at(c.start) == page


def test_pdf_pages_and_encodings_are_kept_with_the_documents(pipeline):
    docs = {d.source: d for d in pipeline.documents()}
    assert len(docs["ports-review.pdf"].page_starts) == 3 and docs["ports-review.pdf"].date == "2025-03-14"
    assert docs["cafe-latin1.txt"].encoding == "iso8859-1"
    assert docs["ferry-budgets.docx"].title == "Ferry budgets for the coastal towns"


def test_a_link_behind_a_redirect_is_fetched_kept_and_cited_with_its_url(pipeline, site):
    result = pipeline.add_link(f"{site.base}/old")
    [source] = result.sources
    assert source.startswith("imported/web/") and (pipeline.config.seeds_dir / source).is_file()
    _, c = cited(pipeline, "How long did the 1993 storm cut the road to the Slettnes lighthouse?", source)
    assert "nineteen days" in c.snippet
    assert c.url == f"{site.base}/story"  # the page's address after the redirect
    assert (c.title, c.publisher, c.date) == ("Lighthouse keeper retires after forty years", "Coastal Times", "2025-06-02")
    # Adding it again changes nothing.
    assert pipeline.add_link(f"{site.base}/old").sources == []


@pytest.mark.parametrize(("path", "reason"), [
    ("/missing", r"the server answered HTTP 404 \(Not Found\)"),
    ("/slow", r"could not be fetched \(no answer within 1 s\)"),
    ("/report.pdf", r"is not a web page \(the server sent application/pdf\)"),
    ("/loop", r"could not be fetched \(more than 3 redirects\)"),
])
def test_a_bad_link_says_why_and_changes_nothing(pipeline, site, path, reason):
    before = pipeline.snapshot.store.manifest().files
    files_before = sorted(p for p in pipeline.config.seeds_dir.rglob("*") if p.is_file())
    with pytest.raises(CorpusError, match=rf"^{site.base}{path}: {reason}"):
        pipeline.add_link(site.base + path)
    assert pipeline.snapshot.store.manifest().files == before
    assert sorted(p for p in pipeline.config.seeds_dir.rglob("*") if p.is_file()) == files_before


def test_only_http_links(pipeline):
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)"):
        with pytest.raises(CorpusError, match="only http:// and https:// links can be added"):
            pipeline.add_link(url)


def test_a_feed_adds_only_its_new_entries(pipeline, site):
    first = pipeline.add_feed(f"{site.base}/feed.xml")
    assert len(first.sources) == 2 and first.known == 0 and first.failed == []
    _, c = cited(pipeline, "How much was the Alta salmon farm fined?", next(s for s in first.sources if s in {
        d.source for d in pipeline.documents() if d.title == NEWS["2"][0]}))
    assert "3.5 million kroner" in c.snippet and c.url == f"{site.base}/news/2"
    again = pipeline.add_feed(f"{site.base}/feed.xml")
    assert again.sources == [] and again.known == 2 and again.report.chunks_embedded == 0
    # New items: an article, one whose page is gone but whose feed text is an article, one with neither.
    site.feed_items += [("n3", NEWS["3"][0], "/news/3", "Bridge."), ("n4", "Cruise record", "/gone", GONE_SUMMARY),
                        ("n5", "Short item", "/gone-too", "Too short.")]
    third = pipeline.add_feed(f"{site.base}/feed.xml")
    assert len(third.sources) == 2 and third.known == 2
    assert len(third.failed) == 1 and third.failed[0].startswith("Short item: ") and "HTTP 404" in third.failed[0]
    cited(pipeline, "How many cruise calls did Hammerfest count this year?", next(
        d.source for d in pipeline.documents() if d.title == "Cruise record"))


def test_a_feed_from_a_local_file(pipeline, site, tmp_path):
    feed = tmp_path / "wire.xml"
    feed.write_bytes(rss(site.base, [("local-1", NEWS["3"][0], "/news/3", "Bridge.")]))
    result = pipeline.add_feed(str(feed))
    assert len(result.sources) == 1 and result.sources[0].startswith("imported/feed-wire-")


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("locked.pdf", ff.encrypted_pdf, "this PDF is encrypted and needs a password"),
    ("scan.pdf", ff.image_only_pdf, "this PDF has no text layer; run OCR first"),
])
def test_encrypted_or_image_only_upload_leaves_the_index_as_it_was(pipeline, name, make, reason):
    before = pipeline.snapshot.store.manifest().files
    with pytest.raises(CorpusError, match=rf"^uploads/{name}: {reason}"):
        pipeline.upload(name, make())
    assert pipeline.snapshot.store.manifest().files == before
    assert not (pipeline.config.seeds_dir / "uploads" / name).exists()


def test_cli_add_and_ask_names_the_page(tmp_path, site):
    ff.write_all(tmp_path / "seeds")
    env = {**os.environ, "RAG_SEEDS_DIR": str(tmp_path / "seeds"), "RAG_INDEX_DIR": str(tmp_path / "index"),
           "RAG_FETCH_TIMEOUT": "2"}

    def run(*args, code=0):
        res = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == code, res.stderr
        return res.stdout + res.stderr

    assert "added" in run("add", f"{site.base}/story")
    assert "HTTP 404" in run("add", f"{site.base}/missing", code=2)
    out = run("add", "--feed", f"{site.base}/feed.xml")
    assert "new article(s) indexed" in out
    assert "0 new article(s) indexed" in run("add", "--feed", f"{site.base}/feed.xml")
    (tmp_path / "budgets.docx").write_bytes(ff.docx_with_table())
    assert "added budgets.docx" in run("add", str(tmp_path / "budgets.docx"))
    assert (tmp_path / "seeds" / "uploads" / "budgets.docx").is_file()
    out = run("ask", "When will the dredging of the Kirkenes channel start?")
    assert "ports-review.pdf, p. 3" in out
