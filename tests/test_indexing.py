"""Incremental indexing, failure safety and corrupt-index handling, on a real Chroma on disk."""

import os
import shutil
import threading
import time

import pytest
from conftest import make_config
from format_fixtures import image_only_pdf

from rag.errors import CorpusError, IndexCorruptError
from rag.pipeline import Pipeline
from rag.store import indexer as indexer_module
from rag.store.chroma import Store

pytestmark = pytest.mark.slow  # the embedding model and Chroma indexes


def test_second_run_embeds_nothing_and_changes_are_picked_up(fresh_pipeline):
    p = fresh_pipeline
    first = p.index()
    assert first.documents == 8 and first.chunks_embedded == first.chunks > 8
    again = p.index()
    assert again.chunks_embedded == 0 and not again.changed and again.unchanged == 5

    # Change one file: only its story is re-embedded.
    path = p.config.seeds_dir / "002_792eeee021a370cc.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("2% of the GDP in 2027", "3% of the GDP in 2029"), encoding="utf-8")
    changed = p.index()
    assert changed.updated == ["002_792eeee021a370cc.txt"]
    per_doc = len(p.snapshot.documents["002_792eeee021a370cc"].chunk_ids)
    assert changed.chunks_embedded == per_doc < first.chunks
    answer = p.ask("What share of GDP will Japan spend on defence?")
    assert "3%" in answer.text and "2029" in answer.text

    # Delete a file: its story disappears from retrieval and answers.
    (p.config.seeds_dir / "002_792eeee021a370cc.txt").unlink()
    removed = p.index()
    assert removed.removed == ["002_792eeee021a370cc.txt"] and removed.documents == 7
    answer = p.ask("What share of GDP will Japan spend on defence?")
    assert all(c.doc_id != "002_792eeee021a370cc" for c in answer.citations)
    assert all(x.chunk.doc_id != "002_792eeee021a370cc" for x in p.retrieve("Japan defence spending GDP 2029", top_k=20))
    assert "002_792eeee021a370cc" not in p.snapshot.documents


def _vector_ids(p: Pipeline) -> tuple[set[str], set[str]]:
    """(sentence ids the manifest lists, ids Chroma holds) of the live index."""
    snap = p.snapshot
    listed = {sid for d in snap.documents.values() for sid in d.sentence_ids}
    held = set(snap.store.sentences_col.get(include=[])["ids"])
    return listed, held


def test_editing_a_page_keeps_the_vectors_of_its_unchanged_stories(fresh_pipeline):
    # 000 holds a main story and three "related" stories. Editing the main story re-indexes the
    # file; the related stories come back with the same sentence ids, and once were deleted
    # right after being re-added: they vanished from dense search.
    p = fresh_pipeline
    p.index()
    listed, held = _vector_ids(p)
    assert listed == held and len(held) > 100
    path = p.config.seeds_dir / "000_c0363eb08f2c74e0.txt"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"killed 26 tourists", b"killed 26 visitors", 1))
    assert p.index().updated == ["000_c0363eb08f2c74e0.txt"]
    listed, held = _vector_ids(p)
    assert listed <= held, f"{len(listed - held)} indexed sentences have no vector"
    related = [d for d in p.snapshot.documents if d.startswith("000_c0363eb08f2c74e0-")]
    assert related and all(p.snapshot.store.sentences(related)[0])
    # A change to the bytes only (the cleaned text is the same): every story keeps its vectors.
    path.write_bytes(original + b"\n\n")
    p.index()
    path.write_bytes(original)
    p.index()
    listed, held = _vector_ids(p)
    assert listed == held, f"{len(listed - held)} indexed sentences have no vector, {len(held - listed)} stale"
    hit = p.retrieve("How many tourists were killed in Kashmir, and when?", top_k=3)
    assert hit[0].chunk.doc_id == "000_c0363eb08f2c74e0" and hit[0].dense_rank is not None


def test_files_indexed_right_after_they_were_written_are_vouched_for_by_their_stat_later(fresh_pipeline, monkeypatch):
    """A file written within the racy window gets no recorded stat when it is indexed; the next
    update, once its stat can vouch for it, records it, so that later ones stop reading it."""
    p = fresh_pipeline
    files = sorted(p.config.seeds_dir.glob("*.txt"))
    for f in files:
        os.utime(f)  # just written, as a folder copied a moment ago
    p.index()
    assert all("stat" not in info for info in p.snapshot.store.manifest().files.values())
    past = time.time() - 60
    for f in files:
        os.utime(f, (past, past))  # the same bytes, now old enough for their stat to vouch for them
    again = p.index()
    assert not again.changed and again.chunks_embedded == 0
    recorded = p.snapshot.store.manifest().files
    assert {s: info["stat"] for s, info in recorded.items()} == {
        f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in files}

    reads = []
    real = indexer_module.read_bytes
    monkeypatch.setattr(indexer_module, "read_bytes", lambda path, limit: reads.append(path) or real(path, limit))
    third = p.index()
    assert not third.changed and reads == []  # nothing read, nothing hashed


def test_a_bad_file_fails_the_run_and_the_previous_index_keeps_serving(fresh_pipeline):
    p = fresh_pipeline
    p.index()
    before = p.ask("What did Japan offer India?").text
    (p.config.seeds_dir / "scan.pdf").write_bytes(image_only_pdf())
    with pytest.raises(CorpusError, match=r"scan.pdf: this PDF has no text layer; run OCR first"):
        p.index()
    # Still answers from the previous index, also after reopening it from disk.
    assert p.ask("What did Japan offer India?").text == before
    reopened = Pipeline(p.config, embedder=p.embedder).warm_up(sync=False)
    assert reopened.ask("What did Japan offer India?").text == before
    assert len(reopened.documents()) == 8


def test_an_interrupted_update_leaves_the_index_usable(fresh_pipeline, monkeypatch):
    p = fresh_pipeline
    p.index()
    path = p.config.seeds_dir / "003_942864aac65c9d51.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA late paragraph about naval cooperation in the Arabian Sea was added today.\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "write_tables", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        p.index()
    monkeypatch.undo()
    reopened = Pipeline(p.config, embedder=p.embedder).warm_up(sync=False)
    assert len(reopened.documents()) == 8
    assert not reopened.ask("What did Japan offer India?").abstained
    # The next run finishes the job.
    assert reopened.index().updated == ["003_942864aac65c9d51.txt"]


def test_rebuild_replaces_the_index_atomically(fresh_pipeline):
    p = fresh_pipeline
    p.index()
    old_gen = (p.config.index_dir / "CURRENT").read_text()
    report = p.index(rebuild=True)
    assert report.chunks_embedded == report.chunks
    new_gen = (p.config.index_dir / "CURRENT").read_text()
    assert new_gen != old_gen
    assert (p.config.index_dir / old_gen).is_dir()  # kept for readers in other processes until they follow
    assert not p.ask("What did Japan offer India?").abstained
    p.index(rebuild=True)
    assert not (p.config.index_dir / old_gen).exists()  # two rebuilds on: deleted
    assert sorted(x.name for x in p.config.index_dir.glob("gen-*")) == sorted([new_gen, (p.config.index_dir / "CURRENT").read_text()])


def test_a_failed_rebuild_keeps_the_old_index(fresh_pipeline, monkeypatch):
    p = fresh_pipeline
    p.index()
    gen = (p.config.index_dir / "CURRENT").read_text()
    monkeypatch.setattr(p.embedder, "embed", lambda texts, on_slice=None: (_ for _ in ()).throw(MemoryError("out of memory")))
    with pytest.raises(MemoryError):
        p.index(rebuild=True)
    monkeypatch.undo()
    assert (p.config.index_dir / "CURRENT").read_text() == gen
    assert sorted(x.name for x in p.config.index_dir.glob("gen-*")) == [gen]
    assert not Pipeline(p.config, embedder=p.embedder).warm_up(sync=False).ask("What did Japan offer India?").abstained


def test_tagging_runs_while_the_model_embeds_and_its_failure_keeps_the_old_index(tmp_path, embedder, monkeypatch):
    """spaCy's tagger and the embedding model run at once (Indexer._tag_and_embed). The tagger here
    first waits for the model to start embedding, which never happens when they run in turn."""
    p = Pipeline(make_config(tmp_path, text_cache_dir=tmp_path / "cache"), embedder=embedder)  # empty caches
    indexer = p._indexer_()
    embedding = threading.Event()
    real_embed, real_tag = embedder.embed, indexer.tagger.tag

    def embed(texts, on_slice=None):
        embedding.set()
        return real_embed(texts, on_slice)

    waited: list[bool] = []

    def tag(texts, on_done=None):
        waited.append(embedding.wait(timeout=30))
        return real_tag(texts, on_done)

    monkeypatch.setattr(embedder, "embed", embed)
    monkeypatch.setattr(indexer.tagger, "tag", tag)
    report = p.index()
    assert waited == [True] and report.documents == 8
    assert set(indexer.timings) >= {"annotate", "embed", "tag_and_embed"}
    assert all(d.entities for d in p.snapshot.documents.values())  # the spans came back from the thread

    # A tagger that fails in its thread fails the run, and the index it would have replaced serves.
    before = p.ask("What did Japan offer India?").text
    path = p.config.seeds_dir / "003_942864aac65c9d51.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA late paragraph on naval drills in the Arabian Sea.\n", encoding="utf-8")
    monkeypatch.setattr(indexer.tagger, "tag", lambda texts, on_done=None: (_ for _ in ()).throw(RuntimeError("tagger crashed")))
    with pytest.raises(RuntimeError, match="tagger crashed"):
        p.index()
    assert p.ask("What did Japan offer India?").text == before
    assert Pipeline(p.config, embedder=embedder).warm_up(sync=False).folder_changes().updated == ["003_942864aac65c9d51.txt"]


@pytest.mark.parametrize("damage", ["tables", "chroma", "pointer"])
def test_a_corrupt_index_gets_a_clear_error_and_rebuild_recovers(fresh_pipeline, damage):
    p = fresh_pipeline
    p.index()
    gen_dir = p.config.index_dir / (p.config.index_dir / "CURRENT").read_text()
    if damage == "tables":
        (gen_dir / "tables.sqlite").write_bytes(b"this is not a database" * 100)
    elif damage == "chroma":
        db = gen_dir / "chroma" / "chroma.sqlite3"
        db.write_bytes(b"this is not a database" * 100)
    else:
        shutil.rmtree(gen_dir)
    with pytest.raises(IndexCorruptError, match=r"corrupt|unreadable") as err:
        Pipeline(p.config, embedder=p.embedder).warm_up()
    assert "python -m rag index --repair" in str(err.value)
    fixed = Pipeline(p.config, embedder=p.embedder)
    fixed.index(rebuild=True)
    assert not fixed.ask("What did Japan offer India?").abstained


def test_settings_change_triggers_a_full_rebuild(tmp_path, embedder):
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    Pipeline(cfg, embedder=embedder).index()
    other = Pipeline(cfg.with_(chunk_tokens=120), embedder=embedder)
    report = other.index()
    assert report.chunks_embedded == report.chunks
    assert Store.open_current(cfg.index_dir, cfg.collection).manifest().settings["chunk_tokens"] == 120


def test_a_schema_4_index_serves_then_is_rebuilt_into_sqlite_tables(fresh_pipeline):
    """An index from before the tables moved into SQLite (manifest.json + chunks.jsonl) opens, and
    its other settings make the next start rebuild it into a new generation."""
    import json
    from dataclasses import asdict

    from tests.test_index_integrity import forget_chroma_clients

    p = fresh_pipeline
    p.index()
    gen = Store.current_name(p.config.index_dir)
    gen_dir = p.config.index_dir / gen
    store = p.snapshot.store
    manifest, chunks = store.manifest(), store.chunks()
    old_settings = {**manifest.settings, "schema": 4}
    (gen_dir / "manifest.json").write_text(json.dumps({
        "version": 4, "settings": old_settings, "files": manifest.files,
        "documents": {k: asdict(v) for k, v in manifest.documents.items()}}), encoding="utf-8")
    (gen_dir / "chunks.jsonl").write_text("".join(json.dumps(asdict(c)) + "\n" for c in chunks), encoding="utf-8")
    store._table_file.close()
    for name in ("tables.sqlite", "tables.sqlite-wal", "tables.sqlite-shm"):
        (gen_dir / name).unlink(missing_ok=True)
    forget_chroma_clients()

    legacy = Store.open_current(p.config.index_dir, p.config.collection)
    assert legacy.manifest().settings == old_settings and len(legacy.chunks()) == len(chunks)
    again = Pipeline(p.config, embedder=p.embedder).warm_up()  # other settings: rebuilt first
    assert Store.current_name(p.config.index_dir) != gen
    assert (p.config.index_dir / Store.current_name(p.config.index_dir) / "tables.sqlite").exists()
    assert len(again.documents()) == len(manifest.documents) and not again.ask("What did Japan offer India?").abstained


def test_an_edit_writes_only_the_vector_rows_it_changed(fresh_pipeline, monkeypatch):
    """A sentence appended to a story adds one row and deletes none: the story's other sentences
    keep their ids and rows (their offsets and text are unchanged)."""
    from rag.bench.corpus import generate, write_folder
    from rag.bench.worker import CHANGE_MARK  # (the bench's 1% edit: the cleaner keeps it)

    p = fresh_pipeline
    write_folder(generate(3), p.config.seeds_dir / "synthetic")
    p.index()
    path = sorted((p.config.seeds_dir / "synthetic").iterdir())[1]
    [doc_id] = [d.doc_id for d in p.snapshot.documents.values() if d.source == f"synthetic/{path.name}"]
    before = list(p.snapshot.documents[doc_id].sentence_ids)
    added: list[str] = []
    deleted: list[str] = []
    store_cls = type(p.snapshot.store)
    real_add, real_delete = store_cls.add_sentences, store_cls.delete
    monkeypatch.setattr(store_cls, "add_sentences", lambda self, ids, rows, vecs: added.extend(ids) or real_add(self, ids, rows, vecs))
    monkeypatch.setattr(store_cls, "delete", lambda self, ids: deleted.extend(ids) or real_delete(self, ids))
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + f"\n\n{CHANGE_MARK} {path.stem}.\n", encoding="utf-8")
    assert p.index().updated == [f"synthetic/{path.name}"]
    after = p.snapshot.documents[doc_id].sentence_ids
    assert len(added) == 1 and deleted == [] and after[:-1] == before and after[-1] == added[0]
    listed, held = _vector_ids(p)
    assert listed == held
    assert p.retrieve(f"late correction newsroom {path.stem}", top_k=1)[0].chunk.doc_id == doc_id

    # An edit near the start moves the sentences after it: their rows are replaced, the first kept.
    added.clear()
    text = path.read_text(encoding="utf-8")
    cut = text.index(". ", text.index("\n\n", text.index("\n\n") + 2)) + 1
    path.write_text(text[:cut] + " Officials gave no further details." + text[cut:], encoding="utf-8")
    p.index()
    assert 0 < len(added) < len(after) + 1 and deleted and set(deleted) <= set(after)
    assert set(p.snapshot.documents[doc_id].sentence_ids) & set(after)  # rows before the edit kept
    listed, held = _vector_ids(p)
    assert listed == held


def test_the_sentence_graph_is_searched_wide_enough_to_give_every_build_the_same_neighbours(fresh_pipeline):
    # Chroma's default search breadth (ef_search 100) returned other approximate neighbours from
    # build to build of the same vectors (26 of 457 dev questions retrieved differently among the
    # BBC stories, 2026-12-07); HNSW_SETTINGS widens it. A new index's collection carries it.
    from rag.store.chroma import HNSW_SETTINGS

    p = fresh_pipeline
    p.index()
    col = p.snapshot.store.sentences_col
    assert col.metadata["hnsw:search_ef"] == HNSW_SETTINGS["hnsw:search_ef"] >= 1000
    assert col.configuration_json["hnsw"]["ef_search"] == HNSW_SETTINGS["hnsw:search_ef"]
    # An index made before (Chroma's 100) gets the breadth at its next index run, changes or none.
    col.modify(configuration={"hnsw": {"ef_search": 100}})
    name = col.name
    assert p.snapshot.store._client.get_collection(name).configuration_json["hnsw"]["ef_search"] == 100
    p.index()
    stored = p.snapshot.store._client.get_collection(name).configuration_json["hnsw"]["ef_search"]
    assert stored == HNSW_SETTINGS["hnsw:search_ef"]
