"""Fusion rules on synthetic ids and a stub index: no model, no Chroma."""

import numpy as np

from rag.config import Config
from rag.retrieve.retrieval import Retriever, Snapshot, keep_leaders
from rag.schema import Chunk, SentenceRow


def test_a_leader_outside_the_top_k_takes_the_last_place():
    assert keep_leaders(["a", "b", "c", "d", "L"], ["L"], 3) == ["a", "b", "L", "c", "d"]


def test_both_leaders_outside_the_top_k_make_it():
    order = ["a", "b", "c", "d", "D", "B"]
    kept = keep_leaders(order, ["D", "B"], 3)
    assert kept[:3] == ["a", "D", "B"]  # the two lowest fused ones made room, fused order kept
    assert sorted(kept) == sorted(order)


def test_a_leader_at_the_cut_is_not_pushed_out_by_the_other():
    assert keep_leaders(["a", "b", "B", "c", "D"], ["D", "B"], 3)[:3] == ["a", "B", "D"]


def test_leaders_already_in_the_top_k_change_nothing():
    order = ["D", "a", "B", "c"]
    assert keep_leaders(order, ["D", "B"], 3) == order
    assert keep_leaders(order, ["D", "D"], 2) == order  # the same chunk leads both lists


class _Store:
    def __init__(self, ranking):
        self.ranking = ranking

    def query_sentences(self, vector, n):
        return [(SentenceRow(cid, 0, 10, cid), 1.0 - i / 100) for i, cid in enumerate(self.ranking[:n])]


class _Lexical:
    def __init__(self, rows):
        self.rows = rows

    def search(self, query, k):
        return [(row, 10.0 - i) for i, row in enumerate(self.rows[:k])]


def test_the_retriever_keeps_both_leaders_when_fusion_ranks_them_low():
    # Five chunks both retrievers rank 2nd-6th beat a chunk only one of them ranks 1st.
    ids = ["x1", "x2", "x3", "x4", "x5", "dense_top", "bm25_top"]
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    chunks = [Chunk(cid, cid, f"{w} " * 12, 0, 10) for cid, w in zip(ids, words)]
    row = {c.chunk_id: i for i, c in enumerate(chunks)}
    snap = Snapshot(
        store=_Store(["dense_top", "x1", "x2", "x3", "x4", "x5"]),
        chunks=chunks,
        row_of=row,
        lexical=_Lexical([row[c] for c in ["bm25_top", "x1", "x2", "x3", "x4", "x5"]]),
        documents={},
        chunks_by_doc={c.doc_id: [c] for c in chunks},
        metadata_terms=frozenset(),
        lower_words=frozenset(),
    )
    passages = Retriever(Config(top_k=3, candidates=6)).retrieve(snap, "query", np.zeros(3), top_k=3)
    got = [p.chunk.chunk_id for p in passages]
    assert len(got) == 3 and {"dense_top", "bm25_top"} <= set(got), got
    assert [p.rank for p in passages] == [1, 2, 3]
