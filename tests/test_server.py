"""The index on a real Chroma server (`chroma run`, one per module) against the embedded store.

The core path (index, hybrid retrieval, answers, upload, remove, incremental re-index) runs in both
modes; then what only a shared server has: processes that start from the server alone, see each
other's writes, plan again when another wrote first, wait for the writer lock; and the errors:
unreachable, auth refused, server gone and back, another model or dimension.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from chroma_server import ChromaServer, TokenProxy, free_port
from conftest import SEEDS, SHARED_TEXT_CACHE, make_config, server_config
from test_app import ARTICLE, JAPAN

from rag.config import Config
from rag.errors import CorpusError, IndexMismatchError, StoreAuthError, StoreBusyError, StoreUnavailable
from rag.pipeline import Pipeline
from rag.store.server import ServerStore, open_current

ROOT = Path(__file__).resolve().parent.parent
QUILLON = "How much will the Quillon harbour expansion cost?"  # (ARTICLE answers it)


def mode_config(mode: str, tmp: Path, server, seeds: Path | None = None, **overrides) -> Config:
    if mode == "server":
        return server_config(tmp, server, seeds, **overrides)
    return make_config(tmp, seeds, **overrides)


def cites(answer, doc_id: str) -> bool:
    return any(c.doc_id == doc_id for c in answer.citations)


def held_ids(p: Pipeline) -> set[str]:
    return set(p.snapshot.store.sentences_col.get(include=[])["ids"])


def held_rows(p: Pipeline) -> set[tuple]:
    got = p.snapshot.store.sentences_col.get(include=["metadatas", "documents"])
    return {(m["doc_id"], m["start"], m["end"], m["seg_start"], m["seg_end"], t) for m, t in zip(got["metadatas"], got["documents"])}


# -- the core path, both modes ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_core_path(mode, tmp_path, embedder, chroma_server):
    p = Pipeline(mode_config(mode, tmp_path, chroma_server), embedder=embedder)
    first = p.index()
    assert first.documents == 8 and first.chunks_embedded == first.chunks > 8
    assert isinstance(p.snapshot.store, ServerStore) == (mode == "server")
    listed = {sid for d in p.snapshot.documents.values() for sid in d.sentence_ids}
    assert listed == held_ids(p)

    passages = p.retrieve(JAPAN)
    assert any(x.dense_rank for x in passages) and any(x.bm25_rank for x in passages)
    answer = p.ask(JAPAN)
    assert not answer.abstained and cites(answer, "000_c0363eb08f2c74e0")
    assert p.index().chunks_embedded == 0  # incremental: nothing changed, nothing embedded

    report = p.upload("quillon.txt", ARTICLE.encode())
    assert report.added == ["uploads/quillon.txt"]
    answer = p.ask(QUILLON)
    assert cites(answer, "uploads_quillon") and "12 million euros" in answer.text
    assert any(x.chunk.doc_id == "uploads_quillon" and x.bm25_rank for x in p.retrieve(QUILLON))

    p.remove("uploads_quillon")
    assert "uploads_quillon" not in p.snapshot.documents
    assert all(x.chunk.doc_id != "uploads_quillon" for x in p.retrieve(QUILLON, top_k=20))
    assert not cites(p.ask(QUILLON), "uploads_quillon")

    path = p.config.seeds_dir / "002_792eeee021a370cc.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("2% of the GDP in 2027", "3% of the GDP in 2029"), encoding="utf-8")
    changed = p.index()
    assert changed.updated == ["002_792eeee021a370cc.txt"] and 0 < changed.chunks_embedded < first.chunks
    assert "2029" in p.ask("What share of GDP will Japan spend on defence?").text
    listed = {sid for d in p.snapshot.documents.values() for sid in d.sentence_ids}
    assert listed == held_ids(p)  # the old version's rows were deleted, the new ones are there


# -- what a shared server adds ---------------------------------------------------------------
@pytest.mark.slow
def test_a_process_starts_from_the_server_alone_and_follows_its_writes(tmp_path, embedder, chroma_server):
    a = Pipeline(server_config(tmp_path / "a", chroma_server), embedder=embedder).warm_up()
    collection = a.config.collection
    # B has no local index and an empty folder: everything it serves comes from the server.
    empty = tmp_path / "b-seeds"
    empty.mkdir()
    b = Pipeline(server_config(tmp_path / "b", chroma_server, seeds=empty, collection=collection), embedder=embedder).warm_up()
    assert not (tmp_path / "b" / "index").exists() or not list((tmp_path / "b" / "index").glob("gen-*"))
    assert [c.chunk_id for c in b.snapshot.chunks] == [c.chunk_id for c in a.snapshot.chunks]
    assert b.snapshot.lexical.search("Kashmir tourists killed", 5) == a.snapshot.lexical.search("Kashmir tourists killed", 5)
    assert b.folder_changes().removed == []  # A's files are not B's to remove
    assert not cites(b.ask(QUILLON), "uploads_quillon")

    a.upload("quillon.txt", ARTICLE.encode())  # through A...
    answer = b.ask(QUILLON)  # ...answerable from B at its next question
    assert cites(answer, "uploads_quillon") and "12 million euros" in answer.text
    assert any(x.chunk.doc_id == "uploads_quillon" and x.bm25_rank for x in answer.passages)  # B's BM25 has it
    assert {c.chunk_id for c in b.snapshot.chunks} == {c.chunk_id for c in a.snapshot.chunks}

    b.remove("uploads/quillon.txt")  # removed through B, though A uploaded it
    assert "uploads_quillon" not in a.documents() and not cites(a.ask(QUILLON), "uploads_quillon")
    assert all(x.chunk.doc_id != "uploads_quillon" for x in a.retrieve(QUILLON, top_k=20))
    assert {c.chunk_id for c in b.snapshot.chunks} == {c.chunk_id for c in a.snapshot.chunks}


@pytest.mark.slow
def test_a_write_planned_on_an_old_version_is_planned_again(tmp_path, embedder, chroma_server):
    a = Pipeline(server_config(tmp_path / "a", chroma_server), embedder=embedder).warm_up()
    b = Pipeline(server_config(tmp_path / "b", chroma_server, collection=a.config.collection), embedder=embedder).warm_up()
    (a.config.seeds_dir / "harbour.txt").write_text(ARTICLE, encoding="utf-8")
    (a.config.seeds_dir / "quillon.txt").write_text(ARTICLE.replace("12 million", "14 million"), encoding="utf-8")
    fired = []

    def meanwhile(stage, done, total):  # while A embeds, before it writes: B uploads
        if stage == "embed" and not fired:
            fired.append(b.upload("zorblax.txt", b"Zorblax treaty signed\nThe Zorblax treaty was signed in Vilnius on 3 March 2031 by eleven coastal states.\n"))

    # A's files clash with nothing: its write is planned again on B's version and keeps B's upload.
    report = a.index(progress=meanwhile)
    assert fired and a._indexer_().retries == 1
    assert set(report.added) == {"harbour.txt", "quillon.txt"}
    docs = {d.doc_id for d in a.documents()}
    assert {"harbour", "quillon", "uploads_zorblax"} <= docs and docs == {d.doc_id for d in b.documents()}

    # B uploads a story whose id A's next file also claims: planned again, A sees the clash and refuses
    # (planned on the old version, both would have claimed the id and the tables would hold it twice).
    (a.config.seeds_dir / "uploads_lagoon.txt").write_text(ARTICLE.replace("Quillon", "Lagoon"), encoding="utf-8")
    fired.clear()

    def clash(stage, done, total):
        if stage == "embed" and not fired:
            fired.append(b.upload("lagoon.md", ARTICLE.replace("Quillon", "Lagoon").replace("12", "15").encode()))

    with pytest.raises(CorpusError, match="uploads_lagoon.txt: document id 'uploads_lagoon' is already used by uploads/lagoon.md"):
        a.index(progress=clash)
    assert a._indexer_().retries == 2
    owners = [s for s, f in open_current(a.config).manifest().files.items() if "uploads_lagoon" in f["doc_ids"]]
    assert owners == ["uploads/lagoon.md"]


@pytest.mark.slow
def test_two_first_builds_merge(tmp_path, embedder, chroma_server):
    # Both find no index; B's build lands while A embeds. A's new generation must not replace B's:
    # it was planned on "no index", so A plans again on B's and adds its files to it.
    files = sorted(SEEDS.glob("*.txt"))
    folders = []
    for name, half in (("a", files[::2]), ("b", files[1::2])):
        folder = tmp_path / f"seeds-{name}"
        folder.mkdir()
        for f in half:
            (folder / f.name).write_bytes(f.read_bytes())
        folders.append(folder)
    a = Pipeline(server_config(tmp_path / "a", chroma_server, seeds=folders[0]), embedder=embedder)
    b = Pipeline(server_config(tmp_path / "b", chroma_server, seeds=folders[1], collection=a.config.collection), embedder=embedder)
    fired = []

    def meanwhile(stage, done, total):
        if stage == "embed" and not fired:
            fired.append(b.index())

    a.index(progress=meanwhile)
    assert fired and a._indexer_().retries == 1
    assert len(a.documents()) == 8 and {d.doc_id for d in b.documents()} == {d.doc_id for d in a.documents()}


@pytest.mark.slow
def test_the_writer_lock_holds_off_a_second_writer(tmp_path, embedder, chroma_server):
    p = Pipeline(server_config(tmp_path, chroma_server, chroma_lock_wait=1.0), embedder=embedder).warm_up()
    holder = open_current(p.config)
    holder._acquire()  # another writer, mid-write
    try:
        with pytest.raises(StoreBusyError, match="another process .* has been writing"):
            p.upload("quillon.txt", ARTICLE.encode())
        assert "uploads_quillon" not in p.snapshot.documents
    finally:
        holder._release()
    p.upload("quillon.txt", ARTICLE.encode())
    assert "uploads_quillon" in p.snapshot.documents

    # A writer that died leaves a lease that expires: the next writer takes it over.
    dead = open_current(p.config.with_(chroma_lock_seconds=0.5))
    dead._acquire()
    dead._lock_token = None  # "crashed": never released
    p.remove("uploads_quillon")
    assert "uploads_quillon" not in p.snapshot.documents


@pytest.mark.slow
def test_two_indexer_processes_end_as_one(tmp_path, embedder, chroma_server):
    files = sorted(SEEDS.glob("*.txt"))
    halves = [files[::2], files[1::2]]
    env = {**os.environ, "RAG_CHROMA_URL": chroma_server.url, "RAG_TEXT_CACHE_DIR": str(SHARED_TEXT_CACHE),
           "RAG_COLLECTION": f"two-{tmp_path.name[-12:]}".replace("_", "-")}
    procs = []
    for i, half in enumerate(halves):
        seeds = tmp_path / f"seeds{i}"
        seeds.mkdir()
        for f in half:
            (seeds / f.name).write_bytes(f.read_bytes())
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "rag", "index"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**env, "RAG_SEEDS_DIR": str(seeds), "RAG_INDEX_DIR": str(tmp_path / f"index{i}")}))
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    both = tmp_path / "both"
    both.mkdir()
    for f in files:
        (both / f.name).write_bytes(f.read_bytes())
    one = Pipeline(server_config(tmp_path / "one", chroma_server, seeds=both), embedder=embedder)
    one.index()
    two = Pipeline(Config.from_env(chroma_url=chroma_server.url, collection=env["RAG_COLLECTION"],
                                   seeds_dir=tmp_path / "seeds0", index_dir=tmp_path / "reader"), embedder=embedder)
    a, b = one.snapshot, two.snapshot
    assert set(b.documents) == set(a.documents) and len(a.documents) == 8
    assert {(c.chunk_id, c.text) for c in b.chunks} == {(c.chunk_id, c.text) for c in a.chunks}
    assert {s: f["hash"] for s, f in b.store.manifest().files.items()} == {s: f["hash"] for s, f in a.store.manifest().files.items()}
    # Sentence ids number a sync's sentences in turn, so they differ; the rows themselves may not.
    for p in (one, two):
        assert held_ids(p) == {sid for d in p.snapshot.documents.values() for sid in d.sentence_ids}  # no orphans
    assert held_rows(two) == held_rows(one)
    assert [p.chunk.chunk_id for p in two.retrieve(JAPAN)] == [p.chunk.chunk_id for p in one.retrieve(JAPAN)]


# -- errors ----------------------------------------------------------------------------------
def test_an_unreachable_server_is_named(tmp_path):
    port = free_port()  # nothing listens there
    config = Config.from_env(chroma_url=f"http://127.0.0.1:{port}", index_dir=tmp_path / "index", collection=f"u{port}")
    with pytest.raises(StoreUnavailable, match=rf"Chroma server at http://127.0.0.1:{port} is not reachable.*chroma run"):
        open_current(config)


def test_a_malformed_address_is_refused():
    with pytest.raises(Exception, match="chroma_url must be http://host:port"):
        Config.from_env(chroma_url="127.0.0.1:8000")


@pytest.mark.slow
def test_auth_refused_and_accepted(tmp_path, embedder, chroma_server):
    with TokenProxy(chroma_server.port, "Authorization", "Bearer s3cret") as proxy:
        base = dict(chroma_url=proxy.url, collection=f"auth-{proxy.port}")
        for token in ("", "wrong"):
            config = make_config(tmp_path / (token or "none"), **base, chroma_token=token)
            with pytest.raises(StoreAuthError, match="refused the credentials.*RAG_CHROMA_TOKEN"):
                Pipeline(config, embedder=embedder).warm_up()
        assert proxy.refused >= 2
        p = Pipeline(make_config(tmp_path / "ok", **base, chroma_token="s3cret"), embedder=embedder).warm_up()
        assert cites(p.ask(JAPAN), "000_c0363eb08f2c74e0")
    with TokenProxy(chroma_server.port, "X-Chroma-Token", "s3cret") as proxy:  # the other transport
        config = make_config(tmp_path / "x", chroma_url=proxy.url, collection=base["collection"],
                             chroma_token="s3cret", chroma_token_header="X-Chroma-Token")
        assert open_current(config) is not None


@pytest.mark.slow
def test_server_gone_mid_session_then_back(tmp_path, embedder):
    server = ChromaServer(tmp_path / "db").start()
    try:
        p = Pipeline(server_config(tmp_path, server), embedder=embedder).warm_up()
        assert cites(p.ask(JAPAN), "000_c0363eb08f2c74e0")
        server.stop()
        with pytest.raises(StoreUnavailable, match=rf"Chroma server at {server.url} is not reachable"):
            p.ask(JAPAN)
        with pytest.raises(StoreUnavailable):
            p.upload("quillon.txt", ARTICLE.encode())
        assert not (p.config.seeds_dir / "uploads" / "quillon.txt").exists()  # a failed upload leaves no file
        server.start()  # same path, same port: the same pipeline recovers
        assert cites(p.ask(JAPAN), "000_c0363eb08f2c74e0")
        p.upload("quillon.txt", ARTICLE.encode())
        assert cites(p.ask(QUILLON), "uploads_quillon")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def projected_model(tmp_path_factory) -> str:
    """A real, different sentence-transformers model: MiniLM with a 128-dimension projection on top."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    from rag.store.embeddings import default_model_path

    torch.manual_seed(0)
    base = SentenceTransformer(default_model_path(), device="cpu")
    dense = models.Dense(base.get_embedding_dimension(), 128)
    path = tmp_path_factory.mktemp("model") / "minilm-proj128"
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(path))
    return str(path)


@pytest.mark.slow
def test_a_collection_built_with_another_model_is_refused(tmp_path, embedder, chroma_server, projected_model):
    built = Pipeline(server_config(tmp_path / "a", chroma_server), embedder=embedder).warm_up()
    head = open_current(built.config).base
    assert head["embed_model"] == embedder.name and head["embed_dim"] == 384
    other = server_config(tmp_path / "b", chroma_server, collection=built.config.collection,
                          embed_model=projected_model, embed_backend="torch")
    p = Pipeline(other)
    assert p.embedder.dimension == 128
    with pytest.raises(IndexMismatchError, match=r"all-MiniLM-L6-v2 \(384 dimensions\).*minilm-proj128 \(128 dimensions\)"):
        p.warm_up()
    with pytest.raises(IndexMismatchError):
        p.index()  # nor replaced by a plain sync: only --rebuild replaces the shared index
    assert cites(built.ask(JAPAN), "000_c0363eb08f2c74e0")  # still serving
    chunked = server_config(tmp_path / "c", chroma_server, collection=built.config.collection, chunk_tokens=120)
    with pytest.raises(IndexMismatchError, match="other settings \\(chunk_tokens\\)"):
        Pipeline(chunked, embedder=embedder).warm_up()


@pytest.mark.slow
def test_questions_are_answered_while_an_upload_writes(tmp_path, embedder, chroma_server):
    # Readers and a writer in threads of one process: questions answered while an upload writes.
    p = Pipeline(server_config(tmp_path, chroma_server), embedder=embedder).warm_up()
    errors: list[BaseException] = []

    def ask_many():
        try:
            for _ in range(10):
                assert not p.ask(JAPAN).abstained
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask_many) for _ in range(2)]
    for t in threads:
        t.start()
    p.upload("quillon.txt", ARTICLE.encode())
    for t in threads:
        t.join()
    assert not errors and cites(p.ask(QUILLON), "uploads_quillon")
