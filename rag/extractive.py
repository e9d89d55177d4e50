"""The embedded default answer: pick the sentences that answer the question, cite each one.

No language model: every word of the answer is a sentence from an article, so a citation always
points at text that really says it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.answering import ABSTAIN_TEXT, AnswerRequest
from rag.config import Config
from rag.evidence import AnswerType, EvidenceChecker
from rag.lexical import terms
from rag.schema import Answer, Citation, Passage
from rag.store import SentenceRow

# Sentence score = dense cosine + lexical coverage of the question's (IDF-weighted) terms,
# plus a small prior for the passage's retrieval rank.
W_DENSE = 0.55
W_LEXICAL = 0.45
W_RANK = 0.05
# Bonus for holding the kind of answer asked for, beside the question's words (see evidence.py).
W_SUPPORT = 0.1
# Dense cosine at which a sentence matches the question as a whole, whatever its wording.
PLAIN_MATCH = 0.6
# Weight of term proximity (question word pairs in order) within the lexical score.
W_ORDER = 0.3
# Weakest best-sentence score still answered. On eval/dev_qa.jsonl answerable questions score >= 0.44
# and the unanswerable ones that pass the evidence checks 0.31-0.48: the checks do most of the work,
# this is a backstop set just under the lowest answerable score (measured 2026-11-23).
ABSTAIN_BELOW = 0.40
# Another sentence joins the answer when it scores this close to the best one...
JOIN_RATIO = 0.8
# ...and does not restate a chosen sentence (cosine of the two sentences' vectors).
SAME_FACT_COSINE = 0.72
MIN_WORDS = 6
# The best sentence must contain one of the question's this-many rarest known terms.
FOCUS_TERMS = 3
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "tell", "describ", "explain", "say", "said", "articl", "accord"}
_DEMONYM = re.compile(r"(an|ese|ish|ch|i|ic)$")
_NAMED = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][a-zA-Z]+|[A-Z]{2,})\b")


@dataclass
class Candidate:
    row: SentenceRow
    passage: Passage
    vector: np.ndarray
    dense: float
    lexical: float
    score: float
    terms: set[str]
    support: float = 0.0  # how well the sentence holds the kind of answer asked for


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, config: Config) -> None:
        self.config = config

    def warm_up(self) -> None:
        terms("warm up")  # loads the stemmer and stopword list

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        answer = self.answer(request)
        yield answer.text
        yield answer

    def answer(self, request: AnswerRequest) -> Answer:
        t0 = time.perf_counter()
        snap = request.snapshot
        answer = Answer(text="", citations=[], abstained=True, question=request.question,
                        query=request.query, passages=request.passages, mode_used=self.name)
        missing = _unknown_names(request.question, snap)
        if missing:
            answer.text = ABSTAIN_TEXT
            answer.notes.append(f"The articles never mention {', '.join(missing)}.")
            return answer
        candidates = self._candidates(request)
        checker = EvidenceChecker(request.question, snap.is_name, snap.is_common)
        focus = _focus_terms(request, snap)
        # The best sentence must hold the kind of thing asked for (a count, a date, a name...);
        # otherwise the articles only talk around the question.
        for c in candidates:
            c.support = checker.support(c.row.text)
            c.score += W_SUPPORT * c.support
        candidates.sort(key=lambda c: -c.score)
        names = checker.question_names()
        # A count, an amount or a date belongs to what it sits beside: the names must be in the
        # sentence itself ("US$40,000" in a sentence about tariffs is not the price of a Model Y).
        strict = checker.expect.kind in (AnswerType.NUMBER, AnswerType.MONEY, AnswerType.DATE)
        # and must stand beside the question's words, not at the far end of a long sentence.
        # (A sentence that plainly matches the question as a whole may word things differently.)
        typed = [
            c for c in candidates
            if c.support > 0
            and (not strict or c.support >= 1.0 or c.dense >= PLAIN_MATCH)
            and _mentions(c, names, snap, sentence_only=strict)
        ]
        # A count or an amount must come with what is counted: "2%" answers "defence spending" only
        # in a sentence about spending. Other kinds are checked by the type alone.
        needs_focus = checker.expect.kind in (AnswerType.NUMBER, AnswerType.MONEY)
        focused = [c for c in typed if not (needs_focus and focus) or focus & c.terms]
        best = focused[0] if focused else None
        if best is None or best.score < ABSTAIN_BELOW:
            answer.text = ABSTAIN_TEXT
            kind = checker.expect.kind
            if candidates and not typed and kind is not AnswerType.ANY:
                answer.notes.append(f"No passage gives the {kind.value} the question asks for.")
            else:
                answer.notes.append("The evidence found is too weak to answer from.")
            answer.timings["answer"] = time.perf_counter() - t0
            return answer

        chosen = [best]
        # Only sentences ranked below the best one may join it: one that outscores it but fails
        # the checks above must not slip in as a second sentence.
        for c in candidates[candidates.index(best) + 1 :]:
            if len(chosen) >= self.config.max_answer_sentences or c.score < JOIN_RATIO * best.score:
                break
            if c is best or c.lexical == 0:
                continue
            if any(float(c.vector @ o.vector) >= SAME_FACT_COSINE for o in chosen):
                continue  # the same fact from another article: state it once, from the best source
            chosen.append(c)
        answer.text, answer.citations = _compose(chosen, snap)
        answer.abstained = False
        answer.timings["answer"] = time.perf_counter() - t0
        return answer

    def _candidates(self, request: AnswerRequest) -> list[Candidate]:
        """Sentences of the retrieved passages, scored against the question, best first."""
        snap = request.snapshot
        doc_order = list(dict.fromkeys(p.chunk.doc_id for p in request.passages))
        rows, vectors = snap.store.sentences(doc_order, query=request.query_vector)
        q_terms = [t for t in dict.fromkeys(terms(request.query)) if t not in _QUESTION_WORDS]
        weights = {t: snap.lexical.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        out: list[Candidate] = []
        for row, vec in zip(rows, vectors):
            passage = _passage_holding(row, request.passages)
            if passage is None or len(row.text.split()) < MIN_WORDS:
                continue
            sentence_terms = terms(row.text)
            present = set(sentence_terms)
            lexical = sum(w for t, w in weights.items() if t in present) / total
            lexical += W_ORDER * _ordered_pairs(q_terms, sentence_terms)
            dense = float(vec @ request.query_vector)
            score = W_DENSE * dense + W_LEXICAL * lexical + W_RANK / passage.rank
            out.append(Candidate(row, passage, vec, dense, lexical, score, present))
        out.sort(key=lambda c: -c.score)
        return out


def _ordered_pairs(q_terms: list[str], s_terms: list[str], window: int = 4) -> float:
    """Share of the question's neighbouring term pairs that the sentence has in the same order,
    close together (term proximity): "Tokyo had offered" matches "Japan offer"; "India offers"
    does not, though both share the words."""
    pairs = list(zip(q_terms, q_terms[1:]))
    if not pairs:
        return 0.0
    where: dict[str, list[int]] = {}
    for i, t in enumerate(s_terms):
        where.setdefault(t, []).append(i)
    hits = sum(any(0 < j - i <= window for i in where.get(a, []) for j in where.get(b, [])) for a, b in pairs)
    return hits / len(pairs)


def _passage_holding(row: SentenceRow, passages: list[Passage]) -> Passage | None:
    """The best-ranked passage that holds most of the sentence."""
    for p in passages:
        c = p.chunk
        if c.doc_id == row.doc_id and min(c.end, row.end) - max(c.start, row.start) >= 0.5 * (row.end - row.start):
            return p
    return None  # the sentence lies outside every retrieved passage


def _mentions(c: Candidate, names: set[str], snap, sentence_only: bool = False) -> bool:
    """The passage (or its story's masthead, "according to NewsX") names every proper name the
    question uses: evidence about Modi does not answer a question about the Quad."""
    doc = snap.documents.get(c.row.doc_id)
    meta = f"{doc.title} {doc.publisher} {' '.join(doc.aside_names)}" if doc else ""
    text = c.row.text.lower() if sentence_only else f"{c.row.text} {c.passage.chunk.title} {c.passage.chunk.text} {meta}".lower()
    # Prefixes match "Britain" to "British"; half the names suffice for two-part questions.
    found = sum(bool(re.search(rf"\b{re.escape(n[: max(4, len(n) - 3)])}", text)) for n in names)
    return found >= (len(names) + 1) // 2


def _focus_terms(request: AnswerRequest, snap) -> set[str]:
    """The question's most specific words the corpus knows (words it never uses are paraphrases)."""
    own = [t for t in dict.fromkeys(terms(request.question)) if t not in _QUESTION_WORDS and snap.lexical.known(t)]
    if not own:  # "When was that?": the topic lives in the earlier question
        own = [t for t in dict.fromkeys(terms(request.query)) if t not in _QUESTION_WORDS and snap.lexical.known(t)]
    own.sort(key=lambda t: -snap.lexical.idf(t))
    return set(own[:FOCUS_TERMS])


def _unknown_names(question: str, snap) -> list[str]:
    """Proper names in the question that no indexed article contains (names are not paraphrased).

    Adjectives of nationality ("German", "Japanese") are skipped: articles say "Germany".
    """
    missing = []
    for name in _NAMED.findall(question):
        if _DEMONYM.search(name) or name.isupper():  # acronyms are often spelt out in the text
            continue
        stems = terms(name)
        if stems and not any(snap.lexical.known(s) or s in snap.metadata_terms for s in stems):
            missing.append(name)
    return missing


def _cite(text: str, n: int) -> str:
    """Put the marker inside the sentence's final full stop: "…components [1]."."""
    text = text.strip()
    if text and text[-1] in ".!?" and (len(text) < 2 or text[-2] not in "'\"’”"):
        return f"{text[:-1]} [{n}]{text[-1]}"
    return f"{text} [{n}]"


def _compose(chosen: list[Candidate], snap) -> tuple[str, list[Citation]]:
    # Readable order: stories in the order they were first chosen, sentences in article order.
    story_order = list(dict.fromkeys(c.row.doc_id for c in chosen))
    ordered = sorted(chosen, key=lambda c: (story_order.index(c.row.doc_id), c.row.start))
    citations: list[Citation] = []
    parts: list[str] = []
    for c in ordered:
        doc = snap.documents.get(c.row.doc_id)
        n = len(citations) + 1
        citations.append(
            Citation(
                n=n,
                doc_id=c.row.doc_id,
                title=doc.title if doc else c.passage.chunk.title,
                source=doc.source if doc else "",
                snippet=c.row.text,
                start=c.row.start,
                end=c.row.end,
                score=round(c.score, 4),
                publisher=doc.publisher if doc else "",
                date=doc.date if doc else "",
                context=c.passage.chunk.text,
                context_start=c.passage.chunk.start,
            )
        )
        parts.append(_cite(c.row.text, n))
    return " ".join(parts), citations


__all__ = ["ExtractiveAnswerer", "AnswerType"]
