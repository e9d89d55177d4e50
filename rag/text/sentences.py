"""Sentence spans with character offsets, robust to initials ("H.D. Kumaraswamy") and "U.S."."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.tunables import IndexingTunables

_EXTRA_ABBREVIATIONS = {
    "u.s", "u.k", "u.n", "e.u", "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt",
    "sgt", "adm", "gov", "sen", "rep", "st", "no", "vs", "e.g", "i.e", "etc", "inc", "ltd", "co",
    "corp", "jr", "sr", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "approx", "dept", "est", "fig",
}
_INITIALS_END = re.compile(r"(?:\b[A-Z]\.){1,3}$")


@lru_cache(maxsize=1)
def _punkt():
    from rag.offline import use_bundled_nltk_data

    use_bundled_nltk_data()
    from nltk.tokenize.punkt import PunktTokenizer

    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(_EXTRA_ABBREVIATIONS)
    return tokenizer


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence in text[start:end]; paragraphs never merge."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for para in re.split(r"(\n\s*\n)", text[start:end]):
        if para.strip() and not para.startswith("\n"):
            for s, e in _punkt().span_tokenize(para):
                spans.append((pos + s, pos + e))
        pos += len(para)
    return _merge_initials(text, spans)


def _merge_initials(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Punkt still splits after initials it has not seen; rejoin "… H.D. | Kumaraswamy told …"."""
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and _INITIALS_END.search(text[merged[-1][0] : merged[-1][1]]) and "\n" not in text[merged[-1][1] : s]:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


# Long news sentences carry two or three facts ("…agreed to set up a framework, with media reporting
# that Tokyo had offered to help India develop fighter jets…"); one vector for all of it matches
# none of the facts well. Sentences longer than Config.indexing.max_segment_words are embedded
# clause by clause (rag/tunables.py, IndexingTunables).
_INDEXING = IndexingTunables()
_CLAUSE_BREAK = re.compile(r"(?:,|;|:|\s[–—-])\s+")


def segment_spans(text: str, start: int, end: int, tunables: IndexingTunables = _INDEXING) -> list[tuple[int, int]]:
    """Clause-sized pieces of the sentence text[start:end], each at most ~max_segment_words words."""
    max_words, min_words = tunables.max_segment_words, tunables.min_segment_words
    if len(text[start:end].split()) <= max_words:
        return [(start, end)]
    cuts = [start] + [start + m.end() for m in _CLAUSE_BREAK.finditer(text[start:end])] + [end]
    pieces = [(a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]
    segments: list[tuple[int, int]] = []
    cur_start, cur_end = pieces[0]
    for a, b in pieces[1:]:
        # Merge while the piece fits, and always merge a fragment ("For Japan,") into its neighbour:
        # a two-word vector matches every question that names the country.
        too_short = len(text[a:b].split()) < min_words or len(text[cur_start:cur_end].split()) < min_words
        if len(text[cur_start:b].split()) <= max_words or too_short:
            cur_end = b
        else:
            segments.append((cur_start, cur_end))
            cur_start, cur_end = a, b
    segments.append((cur_start, cur_end))
    return [(s, s + len(text[s:e].rstrip(" ,;:–—-"))) for s, e in segments]
