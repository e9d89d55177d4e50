"""BM25 built from saved term rows: the scores of a full bm25s index, after any update, and only
new texts analysed (synthetic text; bm25s and the real stemmer)."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from rag.store import bm25 as bm25_module
from rag.store.bm25 import LexicalIndex, TermRows, saved_rows
from rag.text.lexical import _terms, terms

WORDS = ["harbour", "ferry", "council", "budget", "berth", "storm", "flood", "minister", "town", "bridge", "school",
         "rail", "tram", "port", "grant", "election", "vote", "farmer", "hospital", "road", "tunnel", "river",
         "island", "museum", "festival", "strike", "wage"]
QUERIES = ["harbour ferry", "storm flood river", "minister budget grant", "museum festival", "wage strike rail tram",
           "tunnel", "unknownword"]


def corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) for _ in range(n)]


def bm25s_scores(texts: list[str], query: str) -> np.ndarray:
    """Scores of bm25s' own index over the same terms (what the index used before)."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(w, len(vocab)) for w in _terms(t)] for t in texts]
    ref = bm25s.BM25()
    ref.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    q = [vocab[w] for w in terms(query) if w in vocab]
    return ref.get_scores(q) if q else np.zeros(len(texts), dtype=np.float32)


def ours(index: LexicalIndex, query: str, n: int) -> np.ndarray:
    scores = index.scores(query)
    return np.zeros(n, dtype=np.float32) if scores is None else scores


def test_scores_equal_a_full_bm25s_index():
    texts = corpus(300, 1)
    index = LexicalIndex(texts)
    for q in QUERIES:
        np.testing.assert_allclose(ours(index, q, len(texts)), bm25s_scores(texts, q), rtol=1e-5, atol=1e-6)


def test_an_update_analyses_only_new_texts_and_scores_as_a_full_rebuild(monkeypatch):
    old = corpus(300, 2)
    first = LexicalIndex(old)
    rng = random.Random(3)
    # 1% of the texts edited, a few removed, a few added, the order shuffled.
    new = [t + " late correction" if i % 100 == 0 else t for i, t in enumerate(old) if i % 37 != 5]
    new += corpus(4, 4)
    rng.shuffle(new)
    analysed: list[str] = []
    monkeypatch.setattr(bm25_module, "_terms", lambda t: analysed.append(t) or _terms(t))
    updated = LexicalIndex(new, first.rows)
    assert sorted(analysed) == sorted(set(new) - set(old))
    for q in QUERIES + ["late correction"]:
        np.testing.assert_allclose(ours(updated, q, len(new)), bm25s_scores(new, q), rtol=1e-5, atol=1e-6)
    full = LexicalIndex(new)
    assert dict(updated.doc_frequencies()) == dict(full.doc_frequencies())
    assert sorted(updated.rows.vocab) == sorted(full.rows.vocab)  # the gone texts' terms left


def test_terms_only_in_removed_texts_leave_the_vocabulary():
    rows = TermRows.build(["harbour ferry", "storm flood", "harbour storm"], _terms)
    kept = TermRows.build(["harbour storm", "harbour ferry"], _terms, rows)
    assert kept.union() == frozenset(terms("harbour storm ferry"))
    assert [sorted(kept.vocab[i] for i in kept.ids[kept.offsets[r]:kept.offsets[r + 1]]) for r in range(2)] == [
        sorted(terms("harbour storm")), sorted(terms("harbour ferry"))]


def test_saved_index_loads_for_its_signature_only_and_its_rows_seed_the_next(tmp_path):
    texts = corpus(50, 5)
    index = LexicalIndex(texts)
    index.save(tmp_path / "lexical", "sig-1")
    assert LexicalIndex.load(tmp_path / "lexical", "sig-2") is None
    loaded = LexicalIndex.load(tmp_path / "lexical", "sig-1")
    assert loaded is not None and loaded.search("harbour ferry", 5) == index.search("harbour ferry", 5)
    rows = saved_rows(tmp_path / "lexical", "terms")
    assert rows is not None and rows.keys.tolist() == index.rows.keys.tolist()
    (tmp_path / "lexical" / "terms.npz").write_bytes(b"truncated")
    assert LexicalIndex.load(tmp_path / "lexical", "sig-1") is None
    assert saved_rows(tmp_path / "lexical", "terms") is None


@pytest.mark.parametrize("texts", [[], ["the of and"]])
def test_an_empty_or_stop_word_corpus_finds_nothing(texts):
    assert LexicalIndex(texts).search("harbour", 3) == []
