"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused by weighted reciprocal rank fusion.

Why not llama-index's QueryFusionRetriever: its RRF takes no per-retriever weights, it runs every
query through an async event loop (milliseconds we cannot spare at 10k documents), and we need the
chunk offsets and both ranks on every result for citations and evaluation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.config import Config
from rag.lexical import LexicalIndex
from rag.schema import Chunk, Passage
from rag.store import DocRecord, Store


@dataclass
class Snapshot:
    """An immutable view of the index that one question reads from, start to end."""

    store: Store
    chunks: list[Chunk]
    row_of: dict[str, int]
    lexical: LexicalIndex
    documents: dict[str, DocRecord]


def build_snapshot(store: Store) -> Snapshot:
    from rag.indexer import embedding_text

    chunks = store.chunks()
    manifest = store.manifest()
    return Snapshot(
        store=store,
        chunks=chunks,
        row_of={c.chunk_id: i for i, c in enumerate(chunks)},
        lexical=LexicalIndex([embedding_text(c) for c in chunks]),
        documents=manifest.documents,
    )


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank) over the lists an id appears in."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, cid in enumerate(ids, start=1):
            fused[cid] = fused.get(cid, 0.0) + weight / (k + rank)
    return fused


def _shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def near_duplicate(a: str, b: str, threshold: float) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    return bool(sa and sb) and len(sa & sb) / min(len(sa), len(sb)) >= threshold


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
            dense_ids = [cid for cid, _ in snap.store.query_chunks(query_vector, cfg.candidates) if cid in snap.row_of]
            rankings.append((dense_ids, cfg.dense_weight))
        if cfg.retrieval in ("hybrid", "bm25"):
            bm25_ids = [snap.chunks[row].chunk_id for row, _ in snap.lexical.search(query, cfg.candidates)]
            rankings.append((bm25_ids, cfg.bm25_weight))
        fused = rrf(rankings, cfg.rrf_k)
        dense_rank = {cid: r for r, cid in enumerate(dense_ids, start=1)}
        bm25_rank = {cid: r for r, cid in enumerate(bm25_ids, start=1)}

        passages: list[Passage] = []
        for cid in sorted(fused, key=lambda c: (-fused[c], c)):
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
