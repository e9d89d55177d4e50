"""BM25 over chunks (bm25s), saved beside the index, and the term statistics the answer step uses
to weigh question words."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
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


_FORMAT = 1  # of the files LexicalIndex.save writes


class LexicalIndex:
    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.size = len(texts)
        tokenised = [_terms(t) for t in texts]  # (uncached: each chunk text is seen once here)
        self._vocab: dict[str, int] = {}
        ids = [[self._vocab.setdefault(w, len(self._vocab)) for w in doc] for doc in tokenised]
        df: dict[str, int] = {}
        for doc in tokenised:
            for w in set(doc):
                df[w] = df.get(w, 0) + 1
        self._df = df
        self._bm25 = bm25s.BM25()
        if texts:
            # bm25s takes (ids, vocab); tokenising ourselves keeps BM25 and term weights consistent.
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=self._vocab), show_progress=False)

    # -- persistence: tokenising every chunk again costs seconds at 10k documents ---------------
    def save(self, folder: Path, signature: str) -> None:
        """Write the index to `folder` (replaced whole, so a reader never sees half of it)."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        meta = {"signature": signature, "terms": terms_fingerprint(), "size": self.size,
                "vocab": vocab, "df": [self._df.get(w, 0) for w in vocab]}
        if self.size:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path, signature: str) -> LexicalIndex | None:
        """The index saved in `folder` for exactly this `signature`, or None (missing, stale or unreadable)."""
        import bm25s

        try:
            meta = json.loads((Path(folder) / "lexical.json").read_text(encoding="utf-8"))
            if meta.get("signature") != signature or meta.get("terms") != terms_fingerprint():
                return None
            index = cls.__new__(cls)
            index.size = int(meta["size"])
            index._vocab = {w: i for i, w in enumerate(meta["vocab"])}
            index._df = dict(zip(meta["vocab"], meta["df"]))
            if index.size:
                index._bm25 = bm25s.BM25.load(str(Path(folder) / "bm25"), load_vocab=False, show_progress=False)
            else:
                index._bm25 = bm25s.BM25()
            return index
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def doc_frequencies(self) -> Mapping[str, int]:
        """Term → indexed texts holding it (read-only; the answer step's CorpusStats wraps it)."""
        return MappingProxyType(self._df)

    def share(self, term: str) -> float:
        """Share of indexed texts that contain the term."""
        return self._df.get(term, 0) / self.size if self.size else 0.0

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) of the best-matching texts, best first; empty when no query term is known."""
        q = [self._vocab[w] for w in terms(query) if w in self._vocab]
        if not q or self.size == 0:
            return []
        scores = self._bm25.get_scores(q)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
