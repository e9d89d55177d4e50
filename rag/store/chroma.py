"""The persisted index: sentence vectors in Chroma, plus a manifest of documents and a chunk table.

Dense search runs over single sentences (all-MiniLM-L6-v2 was trained on sentence pairs and matches
a short question best against one sentence); each hit is mapped to the chunk holding it. Chunks are
the unit of BM25, of context and of citations. Embedding chunks as well measured no better on the
eval set (see eval/README.md) and would double indexing time, which the model bounds.

Layout under `index_dir`: `CURRENT` names the live generation folder `gen-*`, which holds Chroma's
files (`chroma/`) and the manifest (settings, files with content hashes, documents) and chunk table
as rows of `tables.sqlite` (rag.store.tables: an update writes only the rows that changed). A
generation of schema 4 (`manifest.json`, `chunks.jsonl`) still opens, to serve until the rebuild
its other settings call for. A rebuild writes a new generation and flips `CURRENT` only when it is complete, so a
failed run leaves the previous index untouched; Chroma never reopens a path that was swapped
under it. The generation it replaced is kept for readers in other processes (rag.store.generations).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError
from rag.schema import Chunk, DocRecord, SentenceRow
from rag.store import generations
from rag.store.tables import FILENAME as TABLES_FILE
from rag.store.tables import TableFile, Tables

# 5: the tables as SQLite rows (4: manifest.json + chunks.jsonl; entity spans tagged per story).
SCHEMA_VERSION = 5
_LEGACY = ("manifest.json", "chunks.jsonl")  # schema 4's tables, read-only
_CURRENT = generations.CURRENT
REPAIR_HINT = "Repair it with `python -m rag index --repair` (it rebuilds from seeds/, which is not touched)."
# The sentence collection's HNSW search breadth. With Chroma's default (ef_search 100) the
# approximate neighbours a question gets differed from build to build of the same vectors: 26 of
# 457 dev questions retrieved differently among the BBC stories, so evaluations and `make fit`
# could not be reproduced. At 1000, two builds gave the same candidates for all 457 (as at 4000),
# for about 3 ms more retrieval per question there (4000: about 11 ms). Measured 2026-12-07,
# eval/results/2026-12-07_reproducible-index-and-qualifiers.md.
HNSW_SETTINGS = {"hnsw:space": "cosine", "hnsw:search_ef": 1000}


@dataclass
class Manifest:
    settings: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> {hash, doc_ids}
    documents: dict[str, DocRecord] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(
            version=data["version"],
            settings=data["settings"],
            files=data["files"],
            documents={k: DocRecord(**v) for k, v in data["documents"].items()},
        )


class Store:
    """One generation of the index on disk: Chroma collections + manifest + chunk table."""

    def __init__(self, path: Path, collection: str) -> None:
        self.path = path
        self.collection_name = collection
        self._client: Any = None  # chromadb.PersistentClient once open()
        self.sentences_col: Any = None  # its collection of sentence vectors
        # The tables: a SQLite file parsed once per committed version (rag.store.tables), or
        # schema 4's JSON files, parsed once at open.
        self._table_file: TableFile | None = None
        self._legacy: Tables | None = None
        self._view: tuple[Tables, Manifest] | None = None  # the Manifest made of the last tables read
        self._view_lock = threading.Lock()
        self._row_count: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def open_current(cls, index_dir: Path, collection: str) -> Store | None:
        """The live generation, or None when nothing was indexed yet."""
        pointer = index_dir / _CURRENT
        if not pointer.exists():
            return None
        gen = pointer.read_text(encoding="utf-8").strip()
        path = index_dir / gen
        if not gen.startswith("gen-") or not path.is_dir():
            raise IndexCorruptError(
                f"index at {index_dir} is corrupt: {_CURRENT} names {gen!r}, which is missing. " + REPAIR_HINT
            )
        store = cls(path, collection)
        store.open()
        return store

    def widen_search(self) -> None:
        """Give a collection made with a narrower search (Chroma's default 100, before 2026-12-07)
        HNSW_SETTINGS' breadth, so that an index updated in place retrieves as a rebuilt one. Chroma
        keeps it in the collection's configuration: processes that open the index afterwards search
        with it (one that has it open already keeps its breadth until it restarts)."""
        want = HNSW_SETTINGS["hnsw:search_ef"]
        have = ((self.sentences_col.configuration_json or {}).get("hnsw") or {}).get("ef_search")
        if have is not None and have < want:
            self.sentences_col.modify(configuration={"hnsw": {"ef_search": want}})

    @staticmethod
    def current_name(index_dir: Path) -> str | None:
        """The name of the live generation folder, or None when nothing was indexed yet."""
        try:
            return (index_dir / _CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return None

    @classmethod
    def create(cls, index_dir: Path, collection: str) -> Store:
        index_dir.mkdir(parents=True, exist_ok=True)
        path = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        path.mkdir()
        store = cls(path, collection)
        store.open(create=True)
        return store

    def open(self, create: bool = False) -> None:
        import chromadb
        from chromadb.config import Settings

        try:
            if not create:
                # (Chroma would silently create an empty database in place of a deleted one.)
                for name in ("chroma", "chroma/chroma.sqlite3"):
                    if not (self.path / name).exists():
                        raise FileNotFoundError(f"{name} is missing")
                if (self.path / TABLES_FILE).exists() or not (self.path / _LEGACY[0]).exists():
                    self._table_file = TableFile(self.path / TABLES_FILE)
                else:
                    self._legacy = _read_legacy(self.path)
            else:
                self._table_file = TableFile(self.path / TABLES_FILE, create=True)
            self._client = chromadb.PersistentClient(
                path=str(self.path / "chroma"),
                settings=Settings(anonymized_telemetry=False, allow_reset=False),
            )
            # embedding_function=None: we always pass vectors; Chroma's default would download ONNX.
            self.sentences_col = self._client.get_or_create_collection(
                self.collection_name, embedding_function=None, metadata=HNSW_SETTINGS
            )
            if not create:
                # Parse now, so corruption is reported at open, not mid-question. Chroma holds
                # every row the manifest lists (and possibly leftovers of an interrupted update).
                listed = sum(len(d.sentence_ids) for d in self.manifest().documents.values())
                if self._count() < listed:
                    raise IndexCorruptError(
                        f"index at {self.path} is corrupt: Chroma holds {self._count():,} sentence vectors, "
                        f"the manifest lists {listed:,}. " + REPAIR_HINT
                    )
        except IndexCorruptError:
            raise
        except Exception as exc:
            raise IndexCorruptError(
                f"index at {self.path} is corrupt or unreadable ({type(exc).__name__}: {exc}). " + REPAIR_HINT
            ) from exc

    def publish(self, index_dir: Path) -> None:
        """Make this generation the live one (atomic rename). The one it replaced is kept, for
        readers in other processes that still serve it until they follow; older ones are deleted."""
        generations.publish(index_dir, self.path)

    def fresh_view(self) -> Store:
        """This generation opened again with a fresh Chroma view, which sees the rows another
        process wrote since (this store's own view keeps serving whoever holds it)."""
        generations.forget_client(self.path / "chroma")
        store = type(self)(self.path, self.collection_name)
        store.open()
        return store

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around the writes of one update (rag.store.server holds the server's writer lock here)."""
        yield

    def discard(self) -> None:
        self._client = None
        if self._table_file is not None:
            self._table_file.close()
        shutil.rmtree(self.path, ignore_errors=True)

    # -- manifest and chunk table ----------------------------------------------------------
    def _tables(self) -> Tables:
        if self._legacy is not None:
            return self._legacy
        if self._table_file is None:
            raise FileNotFoundError(f"{TABLES_FILE} is not open")
        return self._table_file.load()

    def _read(self) -> tuple[Tables, Manifest]:
        """The committed tables and their Manifest (the same objects while they are unchanged)."""
        try:
            tables = self._tables()
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as exc:
            raise IndexCorruptError(
                f"index tables {self.path / TABLES_FILE} are unreadable ({type(exc).__name__}: {exc}). " + REPAIR_HINT
            ) from exc
        with self._view_lock:
            if self._view is None or self._view[0] is not tables:
                self._view = (tables, Manifest(tables.settings, tables.files, tables.documents, tables.version))
            return self._view

    def manifest(self) -> Manifest:
        """The manifest (shared between callers: treat it as read-only)."""
        return self._read()[1]

    def chunks(self) -> list[Chunk]:
        """The chunk table (shared between callers: treat it as read-only)."""
        return self._read()[0].chunks

    def chunks_by_doc(self) -> dict[str, list[Chunk]]:
        """The chunk table by document, each story's chunks in text order (read-only)."""
        if self._table_file is None and self._legacy is None:  # a subclass with tables of its own (server)
            by_doc: dict[str, list[Chunk]] = {}
            for c in self.chunks():
                by_doc.setdefault(c.doc_id, []).append(c)
            for doc_chunks in by_doc.values():
                doc_chunks.sort(key=lambda c: c.start)
            return by_doc
        return self._read()[0].chunks_by_doc

    def tables_signature(self) -> str:
        """Changes whenever the manifest or the chunk table does: the key of what is derived
        from them and saved beside them (the BM25 index)."""
        tables = self._read()[0]
        return hashlib.sha256(f"{self.path.name}\x00{tables.write_id}".encode()).hexdigest()[:32]

    def write_tables(self, manifest: Manifest, chunks: list[Chunk]) -> None:
        """Make the tables hold `manifest` and `chunks`, writing only the rows that changed since
        the version last read, in one transaction: readers see the old or the new, never half,
        and a write that fails (a full disk) leaves them as they were."""
        old: Tables | None = None
        if self._table_file is None:  # a schema-4 generation: its tables move into SQLite whole
            self._table_file = TableFile(self.path / TABLES_FILE, create=True)
        else:
            try:
                old = self._table_file.load()
            except (KeyError, sqlite3.Error):
                old = None  # never written (a fresh generation), or unreadable: write every row
        self._table_file.write(old, manifest.version, manifest.settings, manifest.files, manifest.documents, chunks)
        self._legacy = None

    # -- vectors ---------------------------------------------------------------------------
    def _count(self) -> int:
        # count() costs a Chroma round trip (~7 ms on a loaded machine) on every question, yet
        # the number only changes when rows are added or deleted (below).
        if self._row_count is None:
            self._row_count = self.sentences_col.count()
        return self._row_count

    def add_sentences(self, ids: list[str], rows: list[SentenceRow], vectors: np.ndarray) -> None:
        for lo in range(0, len(ids), 2000):  # Chroma caps one batch (~5k rows)
            part = rows[lo : lo + 2000]
            self._row_count = None
            self.sentences_col.upsert(
                ids=ids[lo : lo + 2000],
                embeddings=vectors[lo : lo + 2000],
                documents=[r.text for r in part],
                metadatas=[
                    {"doc_id": r.doc_id, "start": r.start, "end": r.end, "seg_start": r.seg_start, "seg_end": r.seg_end}
                    for r in part
                ],
            )

    def delete(self, sentence_ids: list[str]) -> None:
        self._row_count = None
        for lo in range(0, len(sentence_ids), 2000):
            self.sentences_col.delete(ids=sentence_ids[lo : lo + 2000])

    def query_sentences(self, vector: np.ndarray, n: int) -> list[tuple[SentenceRow, float]]:
        """The sentences closest to the query vector, with cosine similarity, best first."""
        count = self._count()
        if count == 0:
            return []
        try:
            res = self.sentences_col.query(
                query_embeddings=[vector], n_results=min(n, count), include=["distances", "metadatas", "documents"]
            )
        except Exception:
            # Another process may have shrunk the collection since the count was taken.
            self._row_count = None
            res = self.sentences_col.query(
                query_embeddings=[vector], n_results=min(n, self._count()), include=["distances", "metadatas", "documents"]
            )
        # Rows the manifest does not list for their story at that version are leftovers of an
        # update that was interrupted, or is running now: not the served index.
        documents = self.manifest().documents
        return [
            (SentenceRow.from_chroma(m, text), 1.0 - dist)
            for sid, m, text, dist in zip(res["ids"][0], res["metadatas"][0], res["documents"][0], res["distances"][0])
            if (doc := documents.get(m.get("doc_id", ""))) is not None and sid in doc.sentence_ids
        ]

    def sentences(self, doc_ids: list[str], query: np.ndarray | None = None) -> tuple[list[SentenceRow], np.ndarray]:
        """Every indexed sentence of the given documents, once each, with one vector per sentence.

        A long sentence is stored as several clause vectors: with `query`, the sentence gets the
        vector of its clause closest to the query; without, that of its first clause.
        """
        return one_per_sentence(*self.sentence_clauses(doc_ids), query)

    def sentence_clauses(self, doc_ids: list[str]) -> tuple[list[SentenceRow], np.ndarray]:
        """Every indexed row (sentence or clause) of the given documents, with its vector, in Chroma's order."""
        if not doc_ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        documents = self.manifest().documents
        if all(d in documents for d in doc_ids):
            # By id (the manifest lists each document's rows): a key lookup, ~40% faster than a
            # metadata filter, and it skips rows an interrupted update left behind.
            ids = [sid for d in doc_ids for sid in documents[d].sentence_ids]
            if not ids:
                return [], np.zeros((0, 0), dtype=np.float32)
            res = self.sentences_col.get(ids=ids, include=["embeddings", "metadatas", "documents"])
        else:
            res = self.sentences_col.get(
                where={"doc_id": {"$in": list(doc_ids)}}, include=["embeddings", "metadatas", "documents"]
            )
        vectors = np.asarray(res["embeddings"], dtype=np.float32)
        if not len(vectors):
            return [], vectors
        return [SentenceRow.from_chroma(m, text) for m, text in zip(res["metadatas"], res["documents"])], vectors


def sentence_id(row: SentenceRow) -> str:
    """A row's Chroma id: its story and a hash of what the row holds (offsets and text; its vector
    follows from the text and the index settings). A sentence an edit did not touch or move keeps
    its id, so an update leaves its row alone."""
    key = f"{row.start}:{row.end}:{row.seg_start}:{row.seg_end}:{row.text}"
    return f"{row.doc_id}:{hashlib.blake2b(key.encode('utf-8', 'surrogatepass'), digest_size=8).hexdigest()}"


def one_per_sentence(rows: list[SentenceRow], vectors: np.ndarray,
                     query: np.ndarray | None = None) -> tuple[list[SentenceRow], np.ndarray]:
    """One row per sentence, by document then start: with `query`, the clause closest to it (the
    first such on a tie); without, the first clause."""
    if not rows:
        return [], vectors
    sims = vectors @ query if query is not None else None
    best: dict[tuple[str, int], int] = {}
    for i, r in enumerate(rows):
        key = (r.doc_id, r.start)
        j = best.get(key)
        if j is None or (sims is not None and sims[i] > sims[j]) or (sims is None and r.seg_start < rows[j].seg_start):
            best[key] = i
    keep = sorted(best.values(), key=lambda i: (rows[i].doc_id, rows[i].start))
    return [rows[i] for i in keep], vectors[keep]


def _read_legacy(path: Path) -> Tables:
    """Schema 4's manifest.json and chunks.jsonl, parsed (served until the rebuild they call for)."""
    data = [(path / name).read_bytes() for name in _LEGACY]
    manifest = Manifest.from_json(data[0].decode("utf-8"))
    by_doc: dict[str, list[Chunk]] = {}
    # split("\n"), not splitlines(): U+2028 and friends may sit inside a JSON string.
    for line in data[1].decode("utf-8").split("\n"):
        if line.strip():
            c = Chunk(**json.loads(line))
            by_doc.setdefault(c.doc_id, []).append(c)
    return Tables(manifest.version, manifest.settings, manifest.files, manifest.documents, by_doc,
                  write_id=hashlib.sha256(data[0] + data[1]).hexdigest())
