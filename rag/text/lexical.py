"""Terms: lower-cased, stemmed content words, the unit of BM25 (rag.store.bm25) and of the answer
step's lexical overlap, at index time and at query time alike."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.schema import Chunk

_TOKEN = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words: the unit of BM25 and of lexical overlap."""
    # The answer step stems every sentence of the retrieved stories for every question (~18 ms
    # a question at 1k documents); the same sentences come back often, so results are cached.
    return list(_cached_terms(text))


@lru_cache(maxsize=16384)
def _cached_terms(text: str) -> tuple[str, ...]:
    return tuple(_terms(text))


def _terms(text: str) -> list[str]:
    # Each distinct word is normalised and stemmed once, then looked up: building BM25 over 25k
    # chunks (10k articles) took 3.1 s in per-token list passes, and an index update rebuilds it.
    memo = _WORD_TERM
    out = []
    for w in _TOKEN.findall(text.lower()):
        t = memo.get(w)
        if t is None:
            if len(memo) > _WORD_TERM_MAX:
                memo.clear()  # a bound for long-running servers fed new vocabulary
            t = memo[w] = _word_term(w)
        if t:
            out.append(t)
    return out


def stem(word: str) -> str:
    """The stem of one lower-case word (stop words included)."""
    return _stemmer().stemWord(word)


def _word_term(word: str) -> str:
    """The term of one lower-case token, or "" for a stop word."""
    w = word.replace("’", "'")
    w = w[:-2] if w.endswith("'s") else w
    return "" if w in stopwords() else _stemmer().stemWord(w)


_WORD_TERM: dict[str, str] = {}
_WORD_TERM_MAX = 500_000


def lexical_text(chunk: Chunk) -> str:
    # The title gives every chunk its story's context ("he said" → which story).
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text
