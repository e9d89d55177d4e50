"""Scoring one system answer against one gold record, and summing scores up.

Pure functions over plain records: nothing here knows how an answer was produced, so the same
rules score our pipeline, the llama-index baseline and the RGB benchmark.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from rag.eval.gold import GoldItem

# A passage or citation "overlaps" an evidence span when they share a run of words covering at
# least half of the shorter text, and never fewer than MIN_RUN_WORDS words (so "the Indian
# government said" alone does not count). Half, not all: a chunk boundary may cut the sentence.
MIN_SHARE = 0.5
MIN_RUN_WORDS = 5
HIT_KS = (1, 3, 5)
_WORD = re.compile(r"\w+")
_CITE_MARK = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("‘’“”–—…«»")


# -- what a system returns ---------------------------------------------------------------------
@dataclass(frozen=True)
class Retrieved:
    """A retrieved passage or a cited snippet, reduced to what scoring needs."""

    doc_id: str
    text: str


@dataclass
class SystemOutput:
    text: str
    abstained: bool
    passages: list[Retrieved] = field(default_factory=list)  # best first
    citations: list[Retrieved] = field(default_factory=list)
    seconds: float = 0.0
    mode_used: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""  # the exception the question raised, if any
    short: str = ""  # the direct answer (Answer.short), when the system gave one
    fallback: str = ""  # Answer.fallback: why a generative mode showed the extractive answer


# -- text matching -----------------------------------------------------------------------------
def words(text: str) -> list[str]:
    """Case-folded word tokens: whitespace, non-breaking spaces and curly punctuation stop mattering."""
    return _WORD.findall(text.replace("\u00a0", " ").casefold())


def contains_words(haystack: str, needle: str) -> bool:
    """`needle` occurs in `haystack` as a run of whole words (after normalisation)."""
    n = words(needle)
    if not n:
        return False
    return f" {' '.join(n)} " in f" {' '.join(words(haystack))} "


def overlaps(a: str, b: str) -> bool:
    """One text holds the other, or they share a long enough run of words (see MIN_SHARE)."""
    wa, wb = words(a), words(b)
    short, long = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if not short:
        return False
    if f" {' '.join(short)} " in f" {' '.join(long)} ":
        return True
    m = SequenceMatcher(None, short, long, autojunk=False).find_longest_match(0, len(short), 0, len(long))
    return m.size >= max(MIN_RUN_WORDS, math.ceil(MIN_SHARE * len(short)))


def strip_citations(text: str) -> str:
    return _CITE_MARK.sub("", text)


def fact_present(text: str, alternatives: Iterable[str]) -> bool:
    """The gold rule: any alternative is a case-insensitive substring of the answer."""
    low = strip_citations(text).casefold()
    return any(alt.casefold() in low for alt in alternatives if alt)


def facts_found(text: str, facts: list[list[str]]) -> list[bool]:
    return [fact_present(text, alts) for alts in facts]


def squad_normalise(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = strip_citations(text).replace("\u00a0", " ").lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = squad_normalise(prediction).split(), squad_normalise(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, references: Iterable[str]) -> float:
    return max((token_f1(prediction, r) for r in references), default=0.0)


def normalised_match(prediction: str, accepted: Iterable[str]) -> bool:
    """RGB's exact match: an accepted answer appears in the normalised prediction."""
    pred = f" {squad_normalise(prediction)} "
    return any(f" {squad_normalise(a)} " in pred for a in accepted if squad_normalise(a))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# -- evidence in the indexed corpus ------------------------------------------------------------
class EvidenceLocator:
    """Which gold evidence spans exist in the corpus as the system indexed it.

    Evidence is copied from the raw pages; the system may index cleaned text. Evidence the cleaner
    dropped or altered cannot be matched against passages, so such a question falls back to
    matching the gold document ids.
    """

    def __init__(self, corpus: dict[str, str]) -> None:
        self._docs = {doc_id: f" {' '.join(words(text))} " for doc_id, text in corpus.items()}

    def located(self, evidence: str) -> bool:
        needle = f" {' '.join(words(evidence))} "
        return needle.strip() != "" and any(needle in doc for doc in self._docs.values())


def identity(doc_id: str) -> str:
    return doc_id


# -- one question ------------------------------------------------------------------------------
@dataclass
class QuestionScore:
    id: str
    type: str
    answerable: bool
    question: str
    answer: str
    abstained: bool
    seconds: float
    rank: int | None  # rank of the first supporting passage (1-based), None if none retrieved
    retrieved_docs: list[str]
    matched_by: str  # "evidence" or "doc_id" (evidence not found in the indexed corpus)
    evidence_missing: list[str]  # gold evidence spans the indexed corpus does not contain
    facts: list[bool]
    fact_recall: float | None
    all_facts: bool | None
    f1: float | None
    citations: int
    supported_citations: int
    gold_cited: bool | None
    cited_docs: list[str] = field(default_factory=list)
    unsupported_citations: list[str] = field(default_factory=list)  # snippets backing no gold fact
    mode_used: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)
    short: str = ""  # the direct answer (Answer.short) as given; "" when none, or when it abstained
    extra: dict[str, float] = field(default_factory=dict)  # benchmark-specific figures
    reasons: list[str] = field(default_factory=list)  # why it failed; empty when it passed

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def cit_precision(self) -> float | None:
        return self.supported_citations / self.citations if self.citations else None


def score_question(
    item: GoldItem,
    out: SystemOutput,
    locator: EvidenceLocator,
    alias: Callable[[str], str] = identity,
) -> QuestionScore:
    """Score one answer. `alias` maps a document id to the unit the system indexes (the llama-index
    baseline indexes whole files, so "000_x-2" and "000_x" are the same document to it)."""
    gold_docs = {alias(d) for d in item.doc_ids}
    missing = [e for e in item.evidence if not locator.located(e)]
    by_evidence = bool(item.evidence) and len(missing) < len(item.evidence)

    def supports(r: Retrieved) -> bool:
        if by_evidence:
            return any(overlaps(e, r.text) for e in item.evidence)
        return alias(r.doc_id) in gold_docs

    rank = next((i for i, p in enumerate(out.passages, start=1) if supports(p)), None)
    score = QuestionScore(
        id=item.id,
        type=item.type,
        answerable=item.answerable,
        question=item.question,
        answer=out.text,
        abstained=out.abstained,
        seconds=out.seconds,
        rank=rank if item.answerable else None,
        retrieved_docs=[p.doc_id for p in out.passages],
        matched_by="evidence" if by_evidence else "doc_id",
        evidence_missing=missing,
        facts=[],
        fact_recall=None,
        all_facts=None,
        f1=None,
        citations=len(out.citations),
        supported_citations=0,
        gold_cited=None,
        cited_docs=[c.doc_id for c in out.citations],
        mode_used=out.mode_used,
        error=out.error,
        notes=list(out.notes),
        short="" if out.abstained else out.short,
    )
    if item.answerable:
        # An abstention states no facts; its boilerplate must not match one by accident.
        text = "" if out.abstained else out.text
        score.facts = facts_found(text, item.facts)
        score.fact_recall = sum(score.facts) / len(score.facts) if score.facts else 1.0
        score.all_facts = all(score.facts)
        score.f1 = best_f1(text, item.refs)
        for c in out.citations:
            if any(overlaps(e, c.text) for e in item.evidence) or (
                alias(c.doc_id) in gold_docs and any(fact_present(c.text, alts) for alts in item.facts)
            ):
                score.supported_citations += 1
            else:
                score.unsupported_citations.append(c.text)
        score.gold_cited = any(alias(c.doc_id) in gold_docs for c in out.citations)
        if len(item.facts) == 1:  # a direct answer can state one fact
            short = "" if out.abstained else out.short
            score.extra["short_exact"] = float(bool(short) and fact_present(short, item.facts[0]))
            score.extra["short_given"] = float(bool(short))
    score.reasons = failure_reasons(item, score)
    return score


def failure_reasons(item: GoldItem, s: QuestionScore) -> list[str]:
    reasons: list[str] = []
    if s.error:
        reasons.append(f"error: {s.error}")
    if not item.answerable:
        if not s.abstained:
            reasons.append("answered an unanswerable question")
        return reasons
    if s.rank is None or s.rank > max(HIT_KS):
        reasons.append(f"evidence not in top {max(HIT_KS)}")
    if s.abstained:
        reasons.append("wrongly refused")
    elif not s.all_facts:
        lost = [alts[0] for alts, ok in zip(item.facts, s.facts) if not ok]
        reasons.append("missing fact(s): " + ", ".join(repr(x) for x in lost))
    if not s.abstained and s.citations and not s.gold_cited:
        reasons.append("no gold article cited")
    return reasons


# -- many questions ----------------------------------------------------------------------------
def _mean(values: Iterable[float | bool | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def aggregate(scores: list[QuestionScore]) -> dict[str, float | int | None]:
    """Overall figures. Retrieval, answer and citation figures are over answerable questions;
    abstention precision is over questions the system refused; None means "no such questions"."""
    ans = [s for s in scores if s.answerable]
    unans = [s for s in scores if not s.answerable]
    refused = [s for s in scores if s.abstained]
    out: dict[str, float | int | None] = {
        "questions": len(scores),
        "answerable": len(ans),
        "unanswerable": len(unans),
    }
    for k in HIT_KS:
        out[f"hit@{k}"] = _mean(s.rank is not None and s.rank <= k for s in ans)
    out["mrr"] = _mean((1.0 / s.rank if s.rank else 0.0) for s in ans)
    out["fact_recall"] = _mean(s.fact_recall for s in ans)
    out["all_facts"] = _mean(s.all_facts for s in ans)
    out["token_f1"] = _mean(s.f1 for s in ans)
    out["cit_precision"] = _mean(s.cit_precision for s in ans if not s.abstained)
    out["gold_cited"] = _mean(s.gold_cited for s in ans)
    out["abstain_precision"] = _mean(not s.answerable for s in refused)
    out["abstain_recall"] = _mean(s.abstained for s in unans)
    out["false_refusal"] = _mean(s.abstained for s in ans)
    seconds = [s.seconds for s in scores if not s.error]
    out["latency_p50"] = percentile(seconds, 50)
    out["latency_p95"] = percentile(seconds, 95)
    out["answer_words"] = _mean(len(s.answer.split()) for s in scores if not s.abstained and not s.error)
    out["passed"] = _mean(s.passed for s in scores)
    out["errors"] = sum(1 for s in scores if s.error)
    for key in sorted({k for s in scores for k in s.extra}):
        out[key] = _mean(s.extra.get(key) for s in scores)
    return out


# Direction of each headline figure, for "which configuration wins".
HIGHER_IS_BETTER = {
    "hit@1": True, "hit@3": True, "hit@5": True, "mrr": True, "fact_recall": True, "all_facts": True,
    "token_f1": True, "cit_precision": True, "gold_cited": True, "abstain_precision": True,
    "abstain_recall": True, "false_refusal": False, "latency_p50": False, "latency_p95": False,
    "passed": True, "exact_match": True, "short_exact": True, "short_given": True,
}
