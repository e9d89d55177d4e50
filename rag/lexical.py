"""BM25 over chunks (bm25s) and the term statistics the answer step uses to weigh question words."""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# News names a country by its people or its capital as often as by itself ("Tokyo offered",
# "Japanese media"): fold those into the country so that lexical matching sees one entity.
_COUNTRY_ALIASES = {
    "japan": "japanese tokyo", "india": "indian indians delhi", "china": "chinese beijing",
    "pakistan": "pakistani islamabad", "russia": "russian moscow kremlin", "usa": "u.s american americans washington",
    "uk": "british britain london", "france": "french paris", "germany": "german berlin",
    "italy": "italian rome", "canada": "canadian ottawa", "australia": "australian canberra",
    "korea": "korean seoul", "taiwan": "taiwanese taipei", "ukraine": "ukrainian kyiv kiev",
    "israel": "israeli", "iran": "iranian tehran", "brazil": "brazilian brasilia",
    "indonesia": "indonesian jakarta", "vietnam": "vietnamese hanoi", "philippines": "philippine filipino manila",
    "bangladesh": "bangladeshi dhaka", "afghanistan": "afghan kabul", "turkey": "turkish ankara",
    "spain": "spanish madrid", "mexico": "mexican", "egypt": "egyptian cairo", "europe": "european",
}
_ALIAS = {alias: country for country, aliases in _COUNTRY_ALIASES.items() for alias in aliases.split()}


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words: the unit of BM25 and of lexical overlap."""
    words = [w.replace("’", "'") for w in _TOKEN.findall(text.lower())]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    words = [_ALIAS.get(w, w) for w in words]
    stop = stopwords()
    return _stemmer().stemWords([w for w in words if w not in stop])


class LexicalIndex:
    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.size = len(texts)
        tokenised = [terms(t) for t in texts]
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

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term the corpus never uses gets the highest weight."""
        return math.log(1 + (self.size + 1) / (self._df.get(term, 0) + 0.5))

    def share(self, term: str) -> float:
        """Share of indexed texts that contain the term."""
        return self._df.get(term, 0) / self.size if self.size else 0.0

    def known(self, term: str) -> bool:
        return term in self._df

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
