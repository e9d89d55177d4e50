"""Bulk import (JSONL, CSV, another folder), index progress, and never indexing a folder silently.

The import's record checks run on files the tests write; the indexing tests use the real
embedding model and Chroma on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.ingest.imports import IMPORTED, Fields, import_path
from rag.pipeline import Pipeline
from rag.web.render import answer_html

ROOT = Path(__file__).resolve().parent.parent
STORY = ("The harbour authority of Port Velland said on Tuesday that 412 cargo ships docked there last year, "
         "a record. Its director, Mara Quist, said a second container terminal would open in 2027.")


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_records_become_articles_with_their_metadata(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    export = _jsonl(tmp_path / "wire.jsonl", [
        {"id": "w-1", "headline": "Port Velland sets a record", "body": STORY, "published": "2024-03-05",
         "link": "https://example.org/port-velland"},
        {"id": "w-2", "headline": "Second story", "body": "A second story, long enough to be an article. " * 3},
    ])
    fields = Fields(text="body", title="headline", date="published", url="link", required=frozenset({"text", "title"}))
    result = import_path(export, seeds, fields)
    assert (result.written, result.unchanged) == (2, 0)
    article = (seeds / IMPORTED / "wire" / "w-1.md").read_text(encoding="utf-8")
    assert article.startswith("---\ntitle: Port Velland sets a record\ndate: 2024-03-05\nurl: https://example.org/port-velland\n---")
    assert STORY in article
    # Re-importing the same export writes nothing; a changed record is the only file rewritten.
    assert import_path(export, seeds, fields).written == 0
    _jsonl(export, [{"id": "w-1", "headline": "Port Velland sets a record", "body": STORY + " More."},
                    {"id": "w-2", "headline": "Second story", "body": "A second story, long enough to be an article. " * 3}])
    again = import_path(export, seeds, fields)
    assert (again.written, again.unchanged, again.removed) == (1, 1, 0)


def test_a_missing_named_field_names_the_field_and_the_record_and_writes_nothing(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    export = _jsonl(tmp_path / "wire.jsonl", [{"id": "1", "body": STORY, "headline": "A"}, {"id": "2", "body": STORY}])
    with pytest.raises(CorpusError, match=r"record on line 2: no 'headline' field for the article's title \(fields: body, id\)"):
        import_path(export, seeds, Fields(text="body", title="headline", required=frozenset({"title"})))
    with pytest.raises(CorpusError, match=r"line 1: no 'text' field"):
        import_path(export, seeds)  # the default text field is required
    assert not (seeds / IMPORTED).exists()


@pytest.mark.parametrize("content, message", [
    ('{"text": "x"}\nnot json\n', r"line 2: not a JSON record"),
    ('["a list"]\n', r"line 1: a record must be a JSON object, not list"),
    ('{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n', r"the id 'a' is used by an earlier record"),
    ('{"text": "   "}\n', r"the 'text' field is empty"),
    ("", r"holds no records"),
])
def test_bad_exports_are_refused_clearly(tmp_path, content, message):
    (tmp_path / "seeds").mkdir()
    export = tmp_path / "bad.jsonl"
    export.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        import_path(export, tmp_path / "seeds")


def test_csv_columns_and_a_folder_import_mirror_their_source(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    export = tmp_path / "archive.csv"
    export.write_text('id,title,text\n7,"Harbour, record","' + STORY.replace('"', '""') + '"\n', encoding="utf-8")
    import_path(export, seeds)
    assert "title: Harbour, record" in (seeds / IMPORTED / "archive" / "7.md").read_text(encoding="utf-8")
    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(STORY, encoding="utf-8")
    (folder / "sub" / "b.md").write_text(STORY, encoding="utf-8")
    assert import_path(folder, seeds).written == 2
    (folder / "a.txt").unlink()
    result = import_path(folder, seeds)
    assert result.removed == 1 and not (seeds / IMPORTED / "clips" / "a.txt").exists()
    with pytest.raises(CorpusError, match="already inside the seeds folder"):
        import_path(seeds / IMPORTED, seeds)
    with pytest.raises(CorpusError, match="cannot import a .pdf file"):
        (tmp_path / "x.pdf").write_bytes(b"%PDF")
        import_path(tmp_path / "x.pdf", seeds)


@pytest.mark.slow
def test_progress_no_silent_indexing_and_urls_in_citations(fresh_pipeline):
    p = fresh_pipeline
    events: list[tuple[str, int, int]] = []
    p.warm_up(progress=lambda *e: events.append(e))  # no index yet: built now, with progress
    stages = {s for s, _, _ in events}
    assert {"read", "annotate", "embed"} <= stages
    for stage in stages:  # each stage ends complete, and never runs backwards
        done = [d for s, d, _ in events if s == stage]
        assert done == sorted(done) and done[-1] == next(t for s, _, t in events if s == stage)
    assert not p.folder_changes()

    # A new article in the folder is not indexed behind the user's back: it is reported.
    _jsonl(p.config.seeds_dir.parent / "wire.jsonl", [{"id": "w-1", "title": "Port Velland sets a record", "text": STORY,
                                                       "url": "https://example.org/port-velland"}])
    import_path(p.config.seeds_dir.parent / "wire.jsonl", p.config.seeds_dir)
    reopened = Pipeline(p.config, embedder=p.embedder).warm_up()
    pending = reopened.folder_changes()
    assert pending.added == [f"{IMPORTED}/wire/w-1.md"] and not pending.updated and not pending.removed
    assert "python -m rag index" in pending.describe()
    assert reopened.ask("How many cargo ships docked at Port Velland last year?").abstained

    report = reopened.index()
    assert report.added == [f"{IMPORTED}/wire/w-1.md"] and not reopened.folder_changes()
    answer = reopened.ask("How many cargo ships docked at Port Velland last year?")
    assert not answer.abstained and "412" in answer.text
    assert answer.citations[0].url == "https://example.org/port-velland"
    assert 'href="https://example.org/port-velland"' in answer_html(answer, "t1")


def test_only_web_addresses_become_links():
    from rag.web.render import _meta

    assert "href" not in _meta("P", "", "f.md", "javascript:alert(1)")
    assert 'href="https://a.example/x?a=1&amp;b=2"' in _meta("P", "", "f.md", "https://a.example/x?a=1&b=2")


@pytest.mark.slow
def test_cli_ask_says_the_folder_changed_and_index_add_imports(tmp_path):
    import shutil

    shutil.copytree(ROOT / "seeds", tmp_path / "seeds", ignore=shutil.ignore_patterns("uploads"))
    env = {**os.environ, "RAG_SEEDS_DIR": str(tmp_path / "seeds"), "RAG_INDEX_DIR": str(tmp_path / "index")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert run("index").returncode == 0
    (tmp_path / "seeds" / "new.txt").write_text(STORY, encoding="utf-8")
    res = run("ask", "What did Japan offer India?")
    assert res.returncode == 0
    assert "has 1 new file(s) since the last index" in res.stderr and "python -m rag index" in res.stderr

    export = _jsonl(tmp_path / "wire.jsonl", [{"id": "9", "body": STORY}])
    bad = run("index", "--add", str(export), "--text-field", "body", "--title-field", "headline")
    assert bad.returncode == 2 and "no 'headline' field for the article's title" in bad.stderr
    ok = run("index", "--add", str(export), "--text-field", "body")
    assert ok.returncode == 0, ok.stderr
    assert "added 2" in ok.stdout  # the import and the file dropped in earlier
