"""Check every generated sentence against the retrieved sources; keep only what they support.

A small model writes fluent first sentences and then drifts, cites sources that do not say what
it claims, or garbles the [n] markers. Each sentence is therefore judged on its own:

1. Citation markers are read ([1], [1, 2], [Source 3], "(2)") and removed from the claim; numbers
   that point at no source are discarded.
2. The claim is compared with every sentence of the sources it cites: the share of its content
   words (weighted by rarity) that the source sentence holds, and the embedding cosine between
   them. Every number and proper name in the claim must appear in the supporting text.
3. A claim the cited sources do not support, or that cites nothing, is aligned with the source
   sentence it matches best across all retrieved sources; it keeps that citation if that sentence
   supports it. Otherwise the claim is dropped.

Citations always name a source sentence (exact document offsets), never the model's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.schema import Passage, SentenceRow
from rag.text.lexical import terms
from rag.text.sentences import sentence_spans
from rag.tunables import GroundingTunables

# A claim is supported when the source sentence holds a share of its (IDF-weighted) words, or a
# lower share but close in meaning; the thresholds are Config.grounding (rag/tunables.py).
_GROUNDING = GroundingTunables()

# Citation markers, well-formed or garbled: [1] [1, 2] [1][2] [Source 1] [#1] 【1】 (1).
_MARKER = re.compile(
    r"[\[【]\s*(?:sources?|src|excerpts?|ref)?\s*#?\s*(\d{1,2}(?:\s*(?:,|;|and|&|-)\s*(?:sources?\s*)?\d{1,2})*)\s*[\]】]"
    r"|\(\s*(?:sources?\s*)?(\d{1,2}(?:\s*,\s*\d{1,2})*)\s*\)"
    r"|\[\s*(\d{1,2})\s*$",  # "[1" cut off by the token limit
    re.I,
)
# Markers written after the full stop belong to the sentence before it: "tanks. [1]" -> "tanks [1]."
_MARKER_AFTER_STOP = re.compile(r"([.!?])(\s*)((?:[\[【]\s*(?:sources?\s*)?\d{1,2}(?:\s*[,;]\s*\d{1,2})*\s*[\]】]\s*)+)")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|[A-D][.)]|Answer:)\s+")
_LEAD_IN = re.compile(
    r"^\s*(?:(?:according to|based on|as (?:stated|reported) in)\s+(?:the\s+)?(?:sources?|articles?|excerpts?|text)"
    r"(?:\s+(?:above|provided))?\s*,?\s*)",
    re.I,
)
_ABSTAIN = re.compile(
    r"\b(?:articles?|sources?|excerpts?|texts?|context)\b[^.]*\b(?:don'?t|do not|does not|doesn'?t|never)\s+"
    r"(?:say|mention|answer|contain|provide|state|specify|include|give)"
    r"|\bnot (?:in|mentioned in|stated in|given in) the (?:articles?|sources?|excerpts?)"
    r"|\bno information\b|\bnot (?:specified|mentioned|provided)\b",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Capitalised words inside a sentence: names and places the source must also contain.
_NAME = re.compile(r"(?<=[a-z,;:]\s)[A-Z][A-Za-z'’-]+")
# Words that talk about the sources rather than the news; they need no support.
_META_TERMS = set(terms("source sources article articles excerpt excerpts according reported report text mentioned"))
# Instructions aimed at a model, planted in an article, are never evidence for a claim.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.]{0,40}\b(?:previous|prior|above|earlier|all)\b[^.]{0,20}\b(?:instructions?|prompts?|rules?)"
    r"|\b(?:you are now|system prompt|as an ai|language model)\b"
    r"|\b(?:respond|reply|answer|say)\s+(?:only\s+)?with\b",
    re.I,
)


@dataclass(frozen=True)
class SourceSentence:
    """One citable sentence of a numbered source."""

    n: int  # the source number shown to the model
    row: SentenceRow
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class Match:
    """How well the best source sentence (or pair) matches a claim."""

    supported: bool
    support: list[SourceSentence]  # the sentence, or two consecutive ones
    score: float  # IDF-weighted coverage plus weighted cosine, less the pair penalty
    reason: str  # why it does not support the claim ("" when it does)


@dataclass
class Source:
    """A retrieved passage as numbered in the prompt, with its citable sentences."""

    n: int
    passage: Passage
    evidence: list[SourceSentence]


@dataclass
class Claim:
    """One generated sentence and the verdict on it."""

    raw: str  # as generated, markers included
    text: str  # markers and lead-ins removed
    cited: list[int]  # source numbers the model wrote that exist
    invalid: list[int]  # source numbers the model wrote that point nowhere
    support: list[SourceSentence] = field(default_factory=list)
    kept: bool = False
    realigned: bool = False  # the citation was missing or wrong and was set by alignment
    abstains: bool = False  # the model said the articles do not answer
    reason: str = ""
    score: float = 0.0
    vector: np.ndarray | None = None  # the claim's embedding, when an embedder was given


def sources_from_passages(passages: list[Passage], rows: list[SentenceRow], vectors: np.ndarray | None) -> list[Source]:
    """Number the passages 1..k and attach the indexed sentences that lie (mostly) inside each."""
    out: list[Source] = []
    for n, p in enumerate(passages, start=1):
        c = p.chunk
        ev = [
            SourceSentence(n, row, None if vectors is None or len(vectors) == 0 else vectors[i])
            for i, row in enumerate(rows)
            if row.doc_id == c.doc_id and c.holds_most_of(row.start, row.end)
        ]
        if not ev:  # a passage with no indexed sentence is cited whole
            ev = [SourceSentence(n, SentenceRow(c.doc_id, c.start, c.end, c.text))]
        out.append(Source(n, p, ev))
    return out


def normalise(text: str) -> str:
    """Move markers written after a sentence's full stop inside it: "tanks. [1]" -> "tanks [1]."."""
    return _MARKER_AFTER_STOP.sub(lambda m: f" {m.group(3).strip()}{m.group(1)} ", text)


def split_claims(text: str) -> list[tuple[int, int]]:
    """Sentence spans of generated text; every line is its own unit (lists, headings)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            spans.extend((pos + s, pos + e) for s, e in sentence_spans(line))
        pos += len(line) + 1
    return spans


def read_markers(sentence: str, k: int) -> tuple[str, list[int], list[int]]:
    """(sentence without markers, valid source numbers, invalid numbers)."""
    valid: list[int] = []
    invalid: list[int] = []

    def take(m: re.Match) -> str:
        body = m.group(1) or m.group(2) or m.group(3) or ""
        nums = [int(x) for x in re.findall(r"\d{1,2}", body)]
        if m.group(2) is not None and not all(1 <= x <= k for x in nums):
            return m.group(0)  # "(2027)"-like text in parentheses, not a citation
        for x in nums:
            (valid if 1 <= x <= k else invalid).append(x)
        return ""

    clean = _MARKER.sub(take, sentence)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    clean = re.sub(r"\s{2,}", " ", clean).strip()
    return clean, list(dict.fromkeys(valid)), list(dict.fromkeys(invalid))


def looks_like_instruction(text: str) -> bool:
    return bool(_INJECTION.search(text))


class Grounder:
    """Judges generated sentences against numbered sources; feed it text as it streams in."""

    def __init__(
        self,
        sources: list[Source],
        embed: Callable[[list[str]], np.ndarray] | None = None,
        idf: Callable[[str], float] | None = None,
        question: str = "",
        tunables: GroundingTunables = _GROUNDING,
    ) -> None:
        self.sources = sources
        self.tunables = tunables
        # A sentence made only of the question's own words ("India and Japan.") answers nothing.
        self.question_terms = set(terms(question))
        self.embed = embed
        self.idf = idf or (lambda _t: 1.0)
        self.by_n = {s.n: s for s in sources}
        self.evidence = [e for s in sources for e in s.evidence if not looks_like_instruction(e.row.text)]
        self._terms = {id(e): set(terms(e.row.text)) for e in self.evidence}
        self._raw = ""
        self._done = 0  # characters of the buffer already judged
        self.claims: list[Claim] = []

    # -- streaming -------------------------------------------------------------------------
    def feed(self, piece: str) -> list[Claim]:
        """Add generated text; judge and return the sentences it completed."""
        self._raw += piece
        return self._judge_ready(final=False)

    def finish(self) -> list[Claim]:
        """Judge whatever is left (the last sentence, possibly cut short)."""
        return self._judge_ready(final=True)

    def _judge_ready(self, final: bool) -> list[Claim]:
        text = normalise(self._raw)
        spans = [(s, e) for s, e in split_claims(text) if e > self._done]
        if not final:
            # The last sentence may still be growing, and one followed only by a marker so far
            # ("tanks. [") may still receive it.
            spans = spans[:-1]
            while spans and text[spans[-1][1] :].lstrip()[:1] in ("[", "(", "【", ""):
                spans.pop()
        out = []
        for s, e in spans:
            self._done = e
            claim = self.check(text[s:e])
            if claim is not None:
                self.claims.append(claim)
                out.append(claim)
        return out

    # -- one sentence ----------------------------------------------------------------------
    def check(self, sentence: str) -> Claim | None:
        """The verdict on one generated sentence (None for an empty one)."""
        raw = _BULLET.sub("", sentence).strip()
        text, cited, invalid = read_markers(raw, len(self.sources))
        text = _LEAD_IN.sub("", text).strip()
        if text[:1].islower():
            text = text[0].upper() + text[1:]
        if not re.search(r"\w", text):
            return None
        claim = Claim(raw=sentence.strip(), text=text, cited=cited, invalid=invalid)
        if _ABSTAIN.search(text):
            claim.abstains, claim.reason = True, "says the articles do not answer"
            return claim
        claim_terms = [t for t in dict.fromkeys(terms(text)) if t not in _META_TERMS]
        if len(claim_terms) < self.tunables.min_claim_terms:
            claim.reason = "too short to check"
            return claim
        if self.question_terms and not set(claim_terms) - self.question_terms:
            claim.reason = "only repeats the question"
            return claim
        vector = claim.vector = self._vector(text)
        cited_ev = [e for e in self.evidence if e.n in cited]
        best = self._best(text, claim_terms, vector, cited_ev)
        if best is None or not best.supported:
            best = self._best(text, claim_terms, vector, self.evidence)
            claim.realigned = best is not None and best.supported
        if best is None or not best.supported:
            claim.reason = best.reason if best else "no source sentence to check against"
            claim.score = best.score if best else 0.0
            return claim
        claim.kept, claim.support, claim.score = True, best.support, best.score
        if claim.realigned:
            claim.reason = "citation set by alignment" if cited else "missing citation set by alignment"
        return claim

    def _vector(self, text: str) -> np.ndarray | None:
        if self.embed is None:
            return None
        return self.embed([text])[0]

    def _best(self, text: str, claim_terms: list[str], vector: np.ndarray | None,
              pool: list[SourceSentence]) -> Match | None:
        """The best-scoring supporting sentence (or pair of consecutive sentences), else the
        best-scoring candidate with the reason it fails; None for an empty pool."""
        if not pool:
            return None
        weights = {t: self.idf(t) for t in claim_terms}
        total = sum(weights.values()) or 1.0
        groups = [[ev] for ev in pool]
        # A claim may fuse two consecutive sentences of one source.
        groups += [[a, b] for a, b in zip(pool, pool[1:]) if a.n == b.n and a.row.doc_id == b.row.doc_id and b.row.start >= a.row.end]
        best_ok: Match | None = None
        best_any: Match | None = None
        for group in groups:
            present = set().union(*(self._terms[id(e)] for e in group))
            coverage = sum(w for t, w in weights.items() if t in present) / total
            cosine = max((float(vector @ e.vector) for e in group if vector is not None and e.vector is not None), default=0.0)
            # A pair must earn its place: it is only chosen when it covers clearly more than one sentence.
            score = coverage + self.tunables.cosine_weight * cosine - self.tunables.pair_penalty * (len(group) - 1)
            ok, reason = _supports(text, " ".join(e.row.text for e in group), coverage, cosine, self.tunables)
            if ok and (best_ok is None or score > best_ok.score):
                best_ok = Match(True, group, score, "")
            if best_any is None or score > best_any.score:
                best_any = Match(ok, group, score, reason)
        return best_ok or best_any


def _supports(claim: str, evidence: str, coverage: float, cosine: float,
              tunables: GroundingTunables = _GROUNDING) -> tuple[bool, str]:
    missing_numbers = [n for n in _NUMBER.findall(claim) if n not in evidence]
    if missing_numbers:
        return False, f"number {missing_numbers[0]} is not in the sources"
    ev_terms = set(terms(evidence))
    missing_names = [w for w in _NAME.findall(claim) if not set(terms(w)) <= ev_terms and w.lower() not in evidence.lower()]
    if missing_names:
        return False, f"{missing_names[0]} is not in the cited text"
    t = tunables
    if coverage >= t.min_coverage or (coverage >= t.min_paraphrase_coverage and cosine >= t.min_paraphrase_cosine):
        return True, ""
    return False, f"only {coverage:.0%} of its words are in the closest source sentence"
