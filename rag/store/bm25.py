"""BM25 over chunks (bm25s), saved beside the index, and the term statistics the answer step uses
to weigh question words.

An update re-analyses only the texts it has not seen: each text's distinct terms and counts are
kept (`TermRows`, keyed by a hash of the text, saved with the index), and the BM25 score matrix is
rebuilt from them with numpy. bm25s' own `index()` re-reads every text's token list in Python
(1.1 s for 30k chunks here, most of a 1%-of-10k update); the matrix built here is the one it
builds (BM25 "lucene", bm25s' defaults; tests/test_bm25.py compares the scores), and bm25s scores
the queries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from rag.text.lexical import _TOKEN, _terms, stopwords, terms


@lru_cache(maxsize=1)
def terms_fingerprint() -> str:
    """Changes whenever `terms()` could tokenise differently: a saved index built with other
    terms is rebuilt, not reused."""
    import Stemmer

    parts = [_TOKEN.pattern, sorted(stopwords()), "english",
             getattr(Stemmer, "__version__", ""), _FORMAT]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


_FORMAT = 2  # of the files LexicalIndex.save writes (2: term rows beside the score matrix)
_ROWS = "terms"  # TermRows file stem in the lexical folder


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class TermRows:
    """Each text's distinct terms with their counts, row by row, and the key (text hash) of each
    row: what BM25 and the term sets are built from, kept so that an update analyses only texts
    it has not seen. Row i's terms are `ids[offsets[i]:offsets[i + 1]]`, indices into `vocab`,
    which holds only terms some row has."""

    keys: np.ndarray  # of str: what names each row's text (see build)
    vocab: list[str]
    ids: np.ndarray  # int32
    counts: np.ndarray  # int32, the term's occurrences in that text
    offsets: np.ndarray  # int64, len(keys) + 1

    @classmethod
    def build(cls, texts: list[str], analyse: Callable[[str], list[str]], previous: TermRows | None = None,
              keys: list[str] | None = None) -> TermRows:
        """Rows for `texts`, in order: copied from `previous` where it holds the same key,
        `analyse`d otherwise. `keys` name the texts (a chunk's id names its text: it holds the
        story's text hash); by default a hash of each text (hashing 25k chunks took 0.12 s here)."""
        keys_list = keys if keys is not None else [text_key(t) for t in texts]
        key_array = np.array(keys_list, dtype=str) if texts else np.zeros(0, dtype=str)
        n = len(texts)
        vocab = list(previous.vocab) if previous is not None else []
        src = np.full(n, -1, dtype=np.int64)
        if previous is not None and len(previous.keys):
            at = {k: i for i, k in enumerate(previous.keys.tolist())}
            src = np.fromiter((at.get(k, -1) for k in keys_list), dtype=np.int64, count=n)
        term_id = {w: i for i, w in enumerate(vocab)} if (src < 0).any() else {}
        fresh: dict[int, tuple[list[int], list[int]]] = {}
        for i in np.flatnonzero(src < 0).tolist():
            counted = Counter(analyse(texts[i]))
            fresh[i] = ([term_id.setdefault(w, len(term_id)) for w in counted], list(counted.values()))
        vocab.extend(list(term_id)[len(vocab):])
        lengths = np.zeros(n, dtype=np.int64)
        reused = np.flatnonzero(src >= 0)
        if previous is not None and len(reused):
            prev_len = np.diff(previous.offsets)
            lengths[reused] = prev_len[src[reused]]
        for i, (row_ids, _) in fresh.items():
            lengths[i] = len(row_ids)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.empty(int(offsets[-1]), dtype=np.int32)
        counts = np.empty(int(offsets[-1]), dtype=np.int32)
        if previous is not None and len(reused):
            # Copy every reused row's slice in one gather: positions within each row, then shifted.
            span = lengths[reused]
            within = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
            take = np.repeat(previous.offsets[src[reused]], span) + within
            put = np.repeat(offsets[reused], span) + within
            ids[put] = previous.ids[take]
            counts[put] = previous.counts[take]
        for i, (row_ids, row_counts) in fresh.items():
            ids[offsets[i] : offsets[i + 1]] = row_ids
            counts[offsets[i] : offsets[i + 1]] = row_counts
        # Drop the terms of texts that are gone, so the vocabulary is what a fresh build would hold.
        used = np.zeros(len(vocab), dtype=bool)
        used[ids] = True
        if not used.all():
            remap = (np.cumsum(used) - 1).astype(np.int32)
            ids = remap[ids]
            vocab = [w for w, u in zip(vocab, used.tolist()) if u]
        return cls(key_array, vocab, ids, counts, offsets)

    def union(self) -> frozenset[str]:
        """Every term of every row."""
        return frozenset(self.vocab)

    def save(self, folder: Path, stem: str) -> None:
        np.savez(folder / f"{stem}.npz", keys=self.keys, ids=self.ids, counts=self.counts, offsets=self.offsets)
        (folder / f"{stem}.vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, stem: str) -> TermRows | None:
        try:
            with np.load(folder / f"{stem}.npz") as z:
                rows = cls(z["keys"], json.loads((folder / f"{stem}.vocab.json").read_text(encoding="utf-8")),
                           z["ids"], z["counts"], z["offsets"])
            if len(rows.offsets) != len(rows.keys) + 1 or (len(rows.ids) and int(rows.ids.max()) >= len(rows.vocab)):
                return None
            return rows
        except (OSError, ValueError, KeyError, TypeError):
            return None


def saved_rows(folder: Path, stem: str) -> TermRows | None:
    """Term rows saved in `folder` by an earlier version of the same tables (any signature), when
    they were made with today's terms: the starting point of an update."""
    try:
        meta = json.loads((Path(folder) / "lexical.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("terms") != terms_fingerprint():
        return None
    return TermRows.load(Path(folder), stem)


class LexicalIndex:
    def __init__(self, texts: list[str], previous: TermRows | None = None, keys: list[str] | None = None) -> None:
        """BM25 over `texts`; `previous` (the rows of an earlier index, by `keys`: see
        TermRows.build) spares analysing texts again."""
        # (uncached terms: the rows are the cache; each text is analysed once)
        self.rows = TermRows.build(texts, _terms, previous, keys)
        self._setup(*bm25_matrix(self.rows))

    def _setup(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> None:
        import bm25s

        rows = self.rows
        self.size = len(rows.keys)
        self._vocab = {w: i for i, w in enumerate(rows.vocab)}
        df = np.diff(indptr)
        self._df = dict(zip(rows.vocab, df.tolist()))
        self._bm25 = bm25s.BM25()
        # The matrix bm25s' index() builds, in the layout its scorer reads.
        self._bm25.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": self.size}
        self._bm25.nonoccurrence_array = None  # ("lucene" has none; index() would set it so)

    # -- persistence: analysing every chunk again costs seconds at 10k documents ----------------
    def save(self, folder: Path, signature: str) -> None:
        """Write the index to `folder` (replaced whole, so a reader never sees half of it)."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        scores = self._bm25.scores
        np.savez(tmp / "bm25.npz", data=scores["data"], indices=scores["indices"], indptr=scores["indptr"])
        self.rows.save(tmp, _ROWS)
        meta = {"signature": signature, "terms": terms_fingerprint(), "size": self.size}
        (tmp / "lexical.json").write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path, signature: str) -> LexicalIndex | None:
        """The index saved in `folder` for exactly this `signature`, or None (missing, stale or unreadable)."""
        try:
            meta = json.loads((Path(folder) / "lexical.json").read_text(encoding="utf-8"))
            if meta.get("signature") != signature or meta.get("terms") != terms_fingerprint():
                return None
            rows = TermRows.load(Path(folder), _ROWS)
            if rows is None or len(rows.keys) != int(meta["size"]):
                return None
            with np.load(Path(folder) / "bm25.npz") as z:
                data, indices, indptr = z["data"], z["indices"], z["indptr"]
            if len(indptr) != len(rows.vocab) + 1:
                return None
            index = cls.__new__(cls)
            index.rows = rows
            index._setup(data, indices, indptr)
            return index
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def doc_frequencies(self) -> Mapping[str, int]:
        """Term → indexed texts holding it (read-only; the answer step's CorpusStats wraps it)."""
        return MappingProxyType(self._df)

    def share(self, term: str) -> float:
        """Share of indexed texts that contain the term."""
        return self._df.get(term, 0) / self.size if self.size else 0.0

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every text for `query`, or None when no query term is indexed."""
        q = [self._vocab[w] for w in terms(query) if w in self._vocab]
        if not q or self.size == 0:
            return None
        return self._bm25.get_scores(q)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) of the best-matching texts, best first; empty when no query term is known."""
        scores = self.scores(query)
        if scores is None:
            return []
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def bm25_matrix(rows: TermRows, k1: float = 1.5, b: float = 0.75) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr): the term-by-text score matrix (CSC, one column per term) of
    BM25 "lucene" with bm25s' default k1 and b, as bm25s.BM25().index() builds it."""
    import scipy.sparse as sp

    n = len(rows.keys)
    lengths = np.diff(rows.offsets)
    row_of = np.repeat(np.arange(n, dtype=np.int32), lengths)
    doc_len = np.bincount(row_of, weights=rows.counts, minlength=n) if n else np.zeros(0)
    avg_len = float(doc_len.mean()) if n else 0.0
    df = np.bincount(rows.ids, minlength=len(rows.vocab))
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = rows.counts.astype(np.float32)
    norm = (k1 * ((1 - b) + b * doc_len / avg_len)).astype(np.float32) if n and avg_len else np.ones(n, np.float32)
    score = idf[rows.ids] * (tf / (norm[row_of] + tf))
    # The rows are the matrix by text (CSR); scipy turns it by term in one linear pass (a
    # counting sort: argsort over 1.6M entries took 0.1 s more), texts in order within a term.
    csc = sp.csr_matrix((score, rows.ids, rows.offsets), shape=(n, len(rows.vocab))).tocsc()
    return csc.data.astype(np.float32, copy=False), csc.indices.astype(np.int32, copy=False), csc.indptr.astype(np.int64)
