"""Hostile documents through upload (Python API and the app's /upload) and through the seeds folder:
each is indexed safely or refused in one line, a refused one leaves the index exactly as it was,
and nothing is written outside the seeds and index folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import make_config
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from test_app import served  # noqa: F401  (the real app on a free port, module-scoped)

from rag.errors import CorpusError
from rag.ingest.loaders import MAX_HTML_TAGS, parse
from rag.ingest.sniff import binary_kind
from rag.pipeline import MAX_NAME_CHARS, Pipeline, safe_filename
from rag.store.chroma import Store

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
STORY = ("Harbour plan approved\n\nThe Quillon harbour authority approved a plan to build two deep-water berths "
         "for container ships on Monday, at a cost of 12 million euros.\nThe berths are due to open in the spring of "
         "2031, the authority said in a statement.\nLocal fishermen welcomed the plan but asked for guarantees that "
         "their moorings would be kept during the works.\n")
HOSTILE_HTML = """<html><head><title>Harbour plan</title><meta property="og:url" content="javascript:alert(1)">
<script>window.__xss = 'script'; alert('s')</script><style>body{display:none}</style></head>
<body onload="alert('body')"><article><h1>Harbour plan approved in Quillon</h1>
<p>The Quillon harbour authority approved a plan to build two deep-water berths for container ships on Monday, officials said.</p>
<iframe src="javascript:alert('iframe')"></iframe><iframe srcdoc="<script>alert('srcdoc')</script>"></iframe>
<p>Fishermen <a href="javascript:alert('link')" onclick="alert('click')">welcomed</a> the plan but asked for guarantees that their moorings would be kept.</p>
<img src=x onerror="alert('img')"><svg onload="alert('svg')"></svg></article></body></html>"""


def test_binary_files_are_told_from_text():
    assert binary_kind(PNG) == "a PNG image"
    assert binary_kind(b"PK\x03\x04" + b"\x00" * 100) == "a ZIP archive (or a .docx/.xlsx)"
    assert binary_kind(os.urandom(4096)) in ("binary data", "")  # random bytes: almost surely NULs
    assert binary_kind(bytes(range(1, 32)) * 50) == "binary data"  # control bytes, no NUL
    assert binary_kind("Plain prose, café, 日本, naïve — fine.\n\tTabbed.\r\n".encode()) == ""
    assert binary_kind("\ufefftext".encode("utf-16")) == ""  # UTF-16 has NULs; its BOM says it is text
    with pytest.raises(CorpusError, match=r"x.txt: looks like a PNG image, not a text article"):
        parse("x.txt", PNG, ".txt")


def test_file_names_are_made_safe():
    assert safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert safe_filename("/abs/path/story.md") == "story.md"
    assert safe_filename("..\\..\\win\\story.html") == "story.html"
    assert safe_filename("a\x00b\x01c.txt") == "a_b_c.txt"
    assert safe_filename("CON.txt") == "_CON.txt" and safe_filename("lpt1.notes.md") == "_lpt1.notes.md"
    assert safe_filename("日本の記事.txt") == "日本の記事.txt"
    long = safe_filename("x" * 300 + ".html")
    assert len(long) == MAX_NAME_CHARS and long.endswith(".html")  # the suffix survives the cut
    for bad in (".txt", "..txt", "story.exe", "story.txt\x00.exe", "   .md"):
        with pytest.raises(CorpusError):
            safe_filename(bad)


def test_markup_heavy_html_is_refused_before_parsing():
    page = "<html><body>" + "<div><span><b></b></span></div>" * (MAX_HTML_TAGS // 4) + "</body></html>"
    with pytest.raises(CorpusError, match=rf"over the {MAX_HTML_TAGS:,} read from one page"):
        parse("markup.html", page.encode(), ".html")


def test_scripts_frames_handlers_and_javascript_links_leave_no_trace():
    [doc] = parse("hostile.html", HOSTILE_HTML.encode(), ".html")
    assert "Quillon harbour authority approved" in doc.text and "welcomed" in doc.text
    for trace in ("alert", "__xss", "javascript:", "onerror", "onload", "display:none", "<"):
        assert trace not in doc.text and trace not in doc.title
    assert doc.url == ""  # a javascript: address is no source link


def fingerprint(pipeline: Pipeline) -> tuple:
    """Everything a refused file must leave as it was: the live generation, its tables, its
    vector count, the seeds folder's files and bytes."""
    index = pipeline.config.index_dir
    gen = index / Store.current_name(index)
    seeds = pipeline.config.seeds_dir
    return (gen.name, hashlib.sha256((gen / "tables.sqlite").read_bytes()).hexdigest(),
            pipeline.snapshot.store.tables_signature(),
            pipeline.snapshot.store.sentences_col.count(),
            sorted((str(p.relative_to(seeds)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in seeds.rglob("*") if p.is_file()))


def outside(root: Path) -> set[str]:
    """Every file and folder beside and under `root` except its seeds and index folders."""
    inside = (root / "seeds", root / "index")
    return {str(p) for p in root.parent.rglob("*") if not any(p == d or d in p.parents for d in inside)}


REFUSED = {  # (name, bytes) -> words of the one-line refusal
    ("empty.txt", b""): "the file is empty",
    ("blank.md", b"  \n\t\n"): "the file is empty",
    ("photo.txt", PNG): "looks like a PNG image",
    ("archive.md", b"PK\x03\x04" + b"\x00" * 64): "looks like a ZIP archive",
    ("huge.txt", b"a" * 5_000_001): "5,000,001 bytes is over the 5,000,000-byte upload limit",
    ("markup.html", ("<div>" * 60_000).encode()): "over the 50,000 read from one page",
    ("nested.html", ("<html><body>" + "<div>" * 100_000 + "Deep text." + "</div>" * 100_000).encode()): "tags, over the",
    ("deep.html", ("<html><body>" + "<div>" * 20_000 + "<p>Deep text here.</p>" + "</div>" * 20_000).encode()): "no article text",
    ("script-only.html", b"<html><script>alert(1)</script><iframe src='javascript:alert(2)'></iframe></html>"): "no article text",
    ("story.exe", STORY.encode()): "unsupported file type",
    ("..txt", STORY.encode()): "unsupported file type",
}


@pytest.mark.slow
def test_hostile_uploads(tmp_path, embedder):
    pipeline = Pipeline(make_config(tmp_path), embedder=embedder).warm_up()
    before_outside = outside(tmp_path)
    pipeline.upload("original.txt", STORY.encode())
    start = fingerprint(pipeline)
    for (name, data), words in REFUSED.items():
        with pytest.raises(CorpusError, match=words) as err:
            pipeline.upload(name, data)
        assert "\n" not in str(err.value)
        assert fingerprint(pipeline) == start, name
    with pytest.raises(CorpusError, match="the same content is already indexed as uploads/original.txt"):
        pipeline.upload("copy-under-another-name.md", STORY.encode())
    assert fingerprint(pipeline) == start

    # Names that try to leave the folder, hide, or name a device: kept inside seeds/uploads/.
    names = ["../../escape.txt", str(tmp_path / "absolute.txt"), "nul\x00byte.txt", "CON.txt", "x" * 300 + ".md",
             "..\\..\\windows.txt"]
    results = pipeline.upload_many([(n, f"Story {i}\n\nThe Quillon ferry carried {i + 3} hundred passengers "
                                         f"across the bay on its first day, the operator said.\n".encode())
                                    for i, n in enumerate(names)])
    assert all(r.report is not None for r in results), [r.error for r in results]
    saved = sorted(p.name for p in (pipeline.config.seeds_dir / "uploads").iterdir())
    assert saved == sorted(["original.txt", "escape.txt", "absolute.txt", "nul_byte.txt", "_CON.txt",
                            "x" * (MAX_NAME_CHARS - 3) + ".md", "windows.txt"])
    assert not (tmp_path.parent / "escape.txt").exists() and not (tmp_path / "absolute.txt").exists()

    # A hostile page is indexed as its text only.
    pipeline.upload("hostile.html", HOSTILE_HTML.encode())
    text = " ".join(c.text for c in pipeline.snapshot.chunks if c.doc_id.startswith("uploads_hostile"))
    assert "deep-water berths" in text and "alert" not in text and "javascript" not in text

    # 200 files in one upload: one update, the bad ones refused one by one, the rest answerable.
    batch = [(f"wire-{i:03}.txt", f"Wire story {i}\n\nThe town of Velland{i} counted {i + 100} new businesses this "
                                  f"year, the chamber of commerce said on Friday.\nMost of the new businesses are "
                                  f"small shops and cafes near the harbour of Velland{i}.\nThe mayor said the "
                                  f"figures showed that the town was recovering.\n".encode())
             for i in range(197)] + [("bad.txt", PNG), ("wire-000.txt", b"another"), ("empty.md", b"")]
    results = pipeline.upload_many(batch)
    assert sum(r.report is not None for r in results) == 197
    assert [r.error.split(":", 1)[1].strip()[:20] for r in results if r.report is None] == [
        "looks like a PNG ima", "a different file wit", "the file is empty"]
    assert sum(1 for p in (pipeline.config.seeds_dir / "uploads").glob("wire-*.txt")) == 197
    passages = pipeline.retrieve("How many new businesses did Velland150 count this year?")
    assert passages[0].source == "uploads/wire-150.txt"
    with pytest.raises(CorpusError, match=r"201 files in one upload; the limit is 200 \(RAG_MAX_UPLOAD_FILES\)"):
        pipeline.upload_many([(f"more-{i}.txt", b"x") for i in range(201)])

    # Nothing written beside seeds/ and index/: no new path. (Paths may vanish meanwhile: the other
    # tests' folders sit beside this one, and their SQLite -wal/-shm files go when a connection closes.)
    assert outside(tmp_path) - before_outside == set()


@pytest.mark.slow
def test_hostile_files_in_the_folder(tmp_path, embedder):
    pipeline = Pipeline(make_config(tmp_path), embedder=embedder).warm_up()
    seeds = pipeline.config.seeds_dir
    start = fingerprint(pipeline)
    folder_cases = {("photo.txt", PNG): "photo.txt: looks like a PNG image",
                    ("empty.txt", b""): "empty.txt: no article text found",
                    ("huge.txt", b"a" * 5_000_001): "over the 5,000,000-byte limit for one article",
                    ("markup.html", ("<div>" * 60_000).encode()): "over the 50,000 read from one page"}
    for (name, data), words in folder_cases.items():
        (seeds / name).write_bytes(data)
        with pytest.raises(CorpusError, match=words):
            pipeline.index()
        (seeds / name).unlink()
        assert fingerprint(pipeline) == start, name
    # The same story under two names in the folder: both indexed; an answer cites real text.
    (seeds / "a.txt").write_text(STORY, encoding="utf-8")
    (seeds / "b.txt").write_text(STORY, encoding="utf-8")
    pipeline.index()
    answer = pipeline.ask("How much will the Quillon berths cost?")
    assert "12 million euros" in answer.text
    assert all(c.snippet in STORY for c in answer.citations if c.source in ("a.txt", "b.txt"))


@pytest.fixture(scope="module")
def client(served):  # noqa: F811
    return Client(served[0], verbose=False)


@pytest.mark.slow
def test_hostile_uploads_through_the_app(client, served, tmp_path):  # noqa: F811
    pipeline = served[1]
    start = fingerprint(pipeline)
    cases = {"photo.txt": (PNG, "looks like a PNG image"), "huge.txt": (b"a" * 5_000_001, "5,000,000-byte upload limit"),
             "empty.txt": (b"", "the file is empty")}
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(AppError, match=words):
            client.predict(handle_file(str(path)), api_name="/upload")
        assert fingerprint(pipeline) == start, name
    # A file over twice the limit is stopped by Gradio itself before it is read.
    (tmp_path / "giant.txt").write_bytes(b"a" * 10_000_001)
    with pytest.raises(Exception, match="(?i)size|large|limit"):
        client.predict(handle_file(str(tmp_path / "giant.txt")), api_name="/upload")
    assert fingerprint(pipeline) == start
