"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused by weighted reciprocal rank fusion.

Why not llama-index's QueryFusionRetriever: its RRF takes no per-retriever weights, it runs every
query through an async event loop (milliseconds we cannot spare at 10k documents), and we need the
chunk offsets and both ranks on every result for citations and evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.config import Config
from rag.retrieve.context import ROWS_MEMO_MAX, CorpusStats, Evidence, Memo, Sentences, Story
from rag.schema import Chunk, DocRecord, Passage, SentenceRow
from rag.store.bm25 import LexicalIndex, TermRows, saved_rows
from rag.store.chroma import Store, one_per_sentence
from rag.text.entities import Entity, entities_in
from rag.text.lexical import lexical_text, terms
from rag.tunables import RetrievalTunables

_RETRIEVE = RetrievalTunables()
log = logging.getLogger(__name__)
# Derived from the tables and saved beside them in the generation folder (see build_snapshot).
_LEXICAL_DIR = "lexical"
_EXTRAS = "snapshot-terms.json"


@dataclass
class Snapshot:
    """An immutable view of the index that one question reads from, start to end."""

    store: Store
    chunks: list[Chunk]
    row_of: dict[str, int]
    lexical: LexicalIndex
    documents: dict[str, DocRecord]
    chunks_by_doc: dict[str, list[Chunk]]
    metadata_terms: frozenset[str]  # terms of titles, publishers, file names and page mastheads
    lower_words: frozenset[str]  # words the corpus writes in lower case: not proper names
    signature: str = ""  # of the tables it was built from (Store.tables_signature)
    common_share: float = _RETRIEVE.common_share  # Config.retrieve.common_share: see is_common
    # Derived per-story values this layer and the answer step reuse across questions (bounded).
    memo: Memo = field(default_factory=Memo, repr=False)
    # Each retrieved story's indexed rows and vectors (gather), by story id.
    story_rows: Memo = field(default_factory=lambda: Memo(ROWS_MEMO_MAX), repr=False)

    @cached_property
    def stats(self) -> CorpusStats:
        """The term statistics the answer step weighs words by (a view: nothing is copied)."""
        return CorpusStats(self.lexical.size, self.lexical.doc_frequencies(), self.metadata_terms)

    def is_common(self, term: str) -> bool:
        """A term in so many passages that it locates nothing ("india" in an India-Japan corpus)."""
        return self.lexical.share(term) >= self.common_share

    def is_name(self, word: str) -> bool:
        """A proper name: never written in lower case, and not in most passages (a name every
        story repeats, like the countries of a topic, answers nothing)."""
        if len(word) < 2 or word.lower() in self.lower_words:
            return False
        stems = terms(word)
        return not stems or not self.is_common(stems[0])

    def entities_in(self, doc_id: str, start: int, end: int) -> list[Entity]:
        """Entity spans (tagged at index time) inside [start, end) of the document."""
        doc = self.documents.get(doc_id)
        if doc is None or not doc.entities:
            return []
        starts = self.memo.get(("entity starts", doc_id), lambda: [e[0] for e in doc.entities])
        return entities_in(doc.entities, start, end, starts)

    def chunk_holding(self, doc_id: str, start: int, end: int) -> Chunk | None:
        """The first chunk of the document that holds most of the span [start, end)."""
        for c in self.chunks_by_doc.get(doc_id, []):
            if c.holds_most_of(start, end):
                return c
        return None


def gather(snap: Snapshot, passages: list[Passage], query_vector: np.ndarray) -> Evidence:
    """What the answer step reads for these passages: every indexed sentence of their stories (one
    Chroma read), with both clause vectors the answerers use, their entity spans, the stories'
    text and records, and the corpus statistics."""
    doc_ids = list(dict.fromkeys(p.chunk.doc_id for p in passages))
    rows, vectors = story_rows(snap, doc_ids)
    nearest = Sentences(*one_per_sentence(rows, vectors, query_vector))
    first = Sentences(*one_per_sentence(rows, vectors))
    stories = {d: Story(d, " ".join(c.text for c in snap.chunks_by_doc.get(d, [])), snap.documents.get(d))
               for d in doc_ids}
    return Evidence(
        sentences=nearest,
        entities=[snap.entities_in(r.doc_id, r.start, r.end) for r in nearest.rows],
        stories=stories,
        stats=snap.stats,
        first_clauses=first,
        memo=snap.memo,
        signature=snap.signature,
    )


def story_rows(snap: Snapshot, doc_ids: list[str]) -> tuple[list[SentenceRow], np.ndarray]:
    """Every indexed row (sentence or clause) of the stories, with its vectors, story by story in
    the order given. Read from Chroma once per snapshot for the stories not read yet: questions on
    one topic come back to the same stories, and the read was about 7 of the 55 ms of an answer
    among the 2,225 BBC stories (cProfile, 2026-12-07)."""
    def read(missing: list) -> dict:
        rows, vectors = snap.store.sentence_clauses(missing)
        where: dict[str, list[int]] = {d: [] for d in missing}
        for i, r in enumerate(rows):
            where.setdefault(r.doc_id, []).append(i)
        return {d: ([rows[i] for i in idx], vectors[idx] if idx else np.zeros((0, 0), dtype=np.float32))
                for d, idx in where.items()}

    parts = [p for p in snap.story_rows.get_many(doc_ids, read) if p[0]]
    if not parts:
        return [], np.zeros((0, 0), dtype=np.float32)
    return [r for p in parts for r in p[0]], np.vstack([p[1] for p in parts])


def build_snapshot(store: Store, tunables: RetrievalTunables = _RETRIEVE) -> Snapshot:
    """The snapshot of `store`'s current tables (`tunables`: Config.retrieve).

    The BM25 index and the term sets are derived from the tables only, so they are saved in the
    generation folder under the tables' signature and reloaded while the tables are unchanged:
    tokenising and stemming every chunk again took seconds at 10k documents on every start. After
    an update, they are rebuilt from the saved term rows of the texts that did not change.
    """
    chunks = store.chunks()
    manifest = store.manifest()
    by_doc = store.chunks_by_doc()
    signature = store.tables_signature()
    folder = store.path / _LEXICAL_DIR
    lexical = LexicalIndex.load(folder, signature)
    extras = _load_extras(folder, signature) if lexical is not None else None
    if lexical is None or extras is None:
        lexical, extras, rows = _derive(chunks, manifest.documents, folder)
        try:
            lexical.save(folder, signature)
            _save_extras(folder, signature, rows)
        except OSError as exc:  # a read-only index still serves; it only starts slower
            log.warning("could not save the BM25 index beside %s: %s", store.path, exc)
    return Snapshot(
        store=store,
        chunks=chunks,
        row_of={c.chunk_id: i for i, c in enumerate(chunks)},
        lexical=lexical,
        documents=manifest.documents,
        chunks_by_doc=by_doc,
        metadata_terms=extras[0],
        lower_words=extras[1],
        signature=signature,
        common_share=tunables.common_share,
    )


_LOWER_WORD = re.compile(r"\b[a-z][a-z’'-]*")


def _metadata_text(d: DocRecord) -> str:
    return f"{d.title} {d.publisher} {d.source} {' '.join(d.aside_names)}".replace(".", " ")


def _derive(chunks: list[Chunk], documents: dict[str, DocRecord], folder: Path) -> tuple[
        LexicalIndex, tuple[frozenset[str], frozenset[str]], tuple[TermRows, TermRows]]:
    """BM25 and the term sets, analysing only texts the rows saved in `folder` do not hold."""
    # A chunk's id names its text (it holds the story's text hash); a record's metadata text is short.
    chunk_keys = [f"{c.chunk_id}:{len(c.text)}" for c in chunks]
    lexical = LexicalIndex([lexical_text(c) for c in chunks], saved_rows(folder, _ROWS_STEM), chunk_keys)
    meta_texts = [_metadata_text(d) for d in documents.values()]
    meta_rows = TermRows.build(meta_texts, terms, saved_rows(folder, _META_STEM), meta_texts)
    lower_rows = TermRows.build([c.text for c in chunks], _LOWER_WORD.findall, saved_rows(folder, _LOWER_STEM), chunk_keys)
    return lexical, (meta_rows.union(), lower_rows.union()), (meta_rows, lower_rows)


# File stems of the saved term rows ("terms" is LexicalIndex's own); the lower-word rows' name
# carries their pattern, so that rows made by another pattern are never reused.
_ROWS_STEM, _META_STEM = "terms", "metadata-terms"
_LOWER_STEM = "lower-words-" + hashlib.sha256(_LOWER_WORD.pattern.encode()).hexdigest()[:8]


def _load_extras(folder: Path, signature: str) -> tuple[frozenset[str], frozenset[str]] | None:
    try:
        data = json.loads((folder / _EXTRAS).read_text(encoding="utf-8"))
        if data.get("signature") != signature:
            return None
        meta, lower = TermRows.load(folder, _META_STEM), TermRows.load(folder, _LOWER_STEM)
        if meta is None or lower is None:
            return None
        return meta.union(), lower.union()
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_extras(folder: Path, signature: str, rows: tuple[TermRows, TermRows]) -> None:
    rows[0].save(folder, _META_STEM)
    rows[1].save(folder, _LOWER_STEM)
    path = folder / _EXTRAS
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"signature": signature}), encoding="utf-8")
    tmp.replace(path)


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank) over the lists an id appears in."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, cid in enumerate(ids, start=1):
            fused[cid] = fused.get(cid, 0.0) + weight / (k + rank)
    return fused


@lru_cache(maxsize=4096)
def _shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    # Cached: the same candidate chunks come back question after question.
    words = re.findall(r"\w+", text.lower())
    return frozenset(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))


def near_duplicate(a: str, b: str, threshold: float) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    return bool(sa and sb) and len(sa & sb) / min(len(sa), len(sb)) >= threshold


def keep_leaders(order: list[str], leaders: list[str], top_k: int) -> list[str]:
    """The fused order with every leader (each retriever's best hit) in the first `top_k`: leaders
    outside them take the places of the lowest-ranked others, and fused order holds within both parts.
    (Moving each leader to place top_k - 1 in turn pushed the first one back out.)"""
    leaders = [c for c in dict.fromkeys(leaders) if c in order][:top_k]
    others = [c for c in order if c not in leaders]
    head = set(leaders) | set(others[: top_k - len(leaders)])
    return [c for c in order if c in head] + [c for c in order if c not in head]


class Retriever:
    def __init__(self, config: Config) -> None:
        self.config = config

    def retrieve(self, snap: Snapshot, query: str, query_vector: np.ndarray | None, top_k: int | None = None) -> list[Passage]:
        cfg = self.config
        top_k = top_k or cfg.top_k
        rankings: list[tuple[list[str], float]] = []
        dense_ids: list[str] = []
        bm25_ids: list[str] = []
        if cfg.retrieval in ("hybrid", "dense") and query_vector is not None:
            # Rows Chroma holds but the chunk table does not are leftovers of an interrupted update.
            # MiniLM matches a short question best against single sentences (it was trained on
            # sentence pairs); a chunk ranks by its best-matching sentence ("small to big").
            for row, _ in snap.store.query_sentences(query_vector, 2 * cfg.candidates):
                chunk = snap.chunk_holding(row.doc_id, *((row.seg_start, row.seg_end) if row.seg_start >= 0 else (row.start, row.end)))
                # Sentences of an interrupted update have no chunk in the table: skip them.
                if chunk is not None and chunk.chunk_id not in dense_ids:
                    dense_ids.append(chunk.chunk_id)
            dense_ids = dense_ids[: cfg.candidates]
            rankings.append((dense_ids, cfg.dense_weight))
        if cfg.retrieval in ("hybrid", "bm25"):
            bm25_ids = [snap.chunks[row].chunk_id for row, _ in snap.lexical.search(query, cfg.candidates)]
            rankings.append((bm25_ids, cfg.bm25_weight))
        fused = rrf(rankings, cfg.rrf_k)
        dense_rank = {cid: r for r, cid in enumerate(dense_ids, start=1)}
        bm25_rank = {cid: r for r, cid in enumerate(bm25_ids, start=1)}

        passages: list[Passage] = []
        order = sorted(fused, key=lambda c: (-fused[c], c))
        # Each retriever's best hit makes the cut: RRF alone lets a chunk ranked 5th and 8th by
        # both beat one that BM25 ranks 1st and dense misses (a sentence that never names the
        # country the question names).
        leaders = [ids[0] for ids, _ in rankings if ids]
        order = keep_leaders(order, leaders, top_k)
        for cid in order:
            chunk = snap.chunks[snap.row_of[cid]]
            # The same report syndicated twice would fill the context with one fact: keep the best.
            if any(near_duplicate(chunk.text, p.chunk.text, cfg.dedup_threshold) for p in passages):
                continue
            doc = snap.documents.get(chunk.doc_id)
            passages.append(
                Passage(
                    chunk=chunk,
                    score=fused[cid],
                    rank=len(passages) + 1,
                    source=doc.source if doc else "",
                    publisher=doc.publisher if doc else "",
                    date=doc.date if doc else "",
                    dense_rank=dense_rank.get(cid),
                    bm25_rank=bm25_rank.get(cid),
                )
            )
            if len(passages) == top_k:
                break
        return passages
