"""The direct answer: the value the question asks for, taken from one of the answer's sentences.

"How many tourists died?" gets "26" before the quoted sentence that says so. The value is a span
of the cited sentence (with its offsets).

First, a name the article gives with the very noun the question asks about: "consultancy group
Capgemini" for "Which consultancy conducted the survey?", "auctioneers Cooper Owen" for "Which
auctioneers ran the sale?". The article itself says what kind of thing the name is, so this holds
whether or not the small tagger recognised the name (it missed both of these), and it goes before
a typed value elsewhere in the sentences ("Hey Joe", a song the tagger read as an organisation).
Only the answer's sentences that write the noun are parsed, so most answers parse nothing.

Otherwise it is one of the answer values the evidence step found in the answer's sentences
(rag.answer.evidence.answer_values). Which one, in order:

1. How precisely it answers: a figure or a name goes before a vague value ("$14.5m" before
   "millions"), a figure before a name for a measure or a time, a year when a year is asked for,
   a calendar date ("16 January 1996", not "Friday" or "45 years ago") when a date is. An amount
   in brackets after another is its conversion, never the answer.
2. The type the question most likely asks for: a person for "who", a place for "where", an
   amount of money for "how much did they pay".
3. How many of the question's words stand beside it, within `AnswerTunables.short_near_words`
   words either side: the answer sits among what the question asks about ("The ferry was built at
   the Harland yard in Belfast" for "In which Belfast shipyard was the ferry built?"), while the
   best-ranked sentence often holds several values of the type, and the question's words beside
   only one of them.
4. Which one the other well-ranked sentences repeat (news repeats the answer: the winner is named
   in many reports, the runner-up in one); then the best sentence, and the value nearest the
   question's words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, TypeVar

from rag.answer.evidence import conversion, names_calendar_date, share_near, states_figure, states_year, vague
from rag.answer.question import MEASURE, NAME_LABELS, PLACE_LABELS, Question, money_verbs
from rag.retrieve.context import Evidence
from rag.schema import Citation, SentenceRow, ShortAnswer
from rag.text.entities import NLP_LOCK, Entity, full_pipeline
from rag.tunables import AnswerTunables

if TYPE_CHECKING:
    from spacy.tokens import Doc


# Sentences whose parse is kept: a parse of a news sentence is a few kilobytes, and only answer
# sentences that write the question's noun are parsed (36 of 322 dev questions, 2026-12-07).
TAGGED_MEMO_MAX = 1024


class ValuedSentence(Protocol):
    """What this step reads of an answer sentence (rag.answer.extractive.Candidate)."""

    row: SentenceRow
    values: list[Entity]  # its answer values of the type asked for
    score: float  # the ranker's log-odds


S = TypeVar("S", bound=ValuedSentence)


def pick_short(q: Question, q_terms: set[str], chosen: Sequence[S], voters: Sequence[S],
               tunables: AnswerTunables) -> tuple[S, Entity] | None:
    """The value of `chosen` (the answer's sentences, best first) that answers `q`, whose content
    terms are `q_terms`; `voters` are the eligible sentences whose values vote. None when the best
    sentence holds no value of the type asked for and none names the kind of thing asked for."""
    named = apposed_name(q, chosen)
    if named:
        return named
    if not chosen[0].values:
        return None
    best_score = chosen[0].score
    votes: dict[str, float] = {}
    for c in voters:
        weight = math.exp(c.score - best_score)  # the ranker's scores are log-odds
        for key in {value_key(c.row, v) for v in c.values}:
            votes[key] = votes.get(key, 0.0) + weight

    likely = likely_label(q)

    def order(option: tuple[int, S, int, Entity]) -> tuple[int, bool, float, float, int, int]:
        rank, c, i, v = option
        near = share_near(c.row.text, c.row.start, v, q_terms, tunables.short_near_words)
        return (precision(q, c.row, v), v.label == likely, near, votes.get(value_key(c.row, v), 0.0), -rank, -i)

    options = [(rank, c, i, v) for rank, c in enumerate(chosen) for i, v in enumerate(c.values)
               if not conversion(c.row.text, c.row.start, v, c.values)]
    _, c, _, v = max(options, key=order)
    return c, v


def likely_label(q: Question) -> str:
    """The type the answer most likely has: the question's primary type ("who": a person), or an
    amount of money for "how much" asked with a verb of paying ("How much is the firm to pay?",
    where a share or a quantity could otherwise answer). Only the direct answer reads this, so
    which sentences answer does not change."""
    if not q.primary and q.wh == "how" and "MONEY" in q.expects and set(q.verbs) & money_verbs():
        return "MONEY"
    return q.primary


def apposed_name(q: Question, chosen: Sequence[S]) -> tuple[S, Entity] | None:
    """The first name, in the answer's sentences best first, written beside the noun the question
    asks about ("which consultancy": "consultancy group Capgemini", "the WRAZ-TV Fox affiliate"),
    less the question's own words. None for a question that asks for a figure or a time, or whose
    noun no answer sentence writes."""
    if not q.focus or q.expects & MEASURE:
        return None
    for c in chosen:
        if q.focus not in c.row.text.lower():
            continue  # the cheap test first: most answers need no parse
        for noun in _tagged(c.row.text):
            if noun.lemma_.lower() != q.focus or noun.pos_ not in ("NOUN", "PROPN") or _hyphenated(noun):
                continue
            for span in _names_beside(noun):
                if words := _less_question_words(span, q, noun):
                    start, end = words[0].idx, words[-1].idx + len(words[-1].text)
                    label = words[0].ent_type_ if words[0].ent_type_ in _NAMING_LABELS else "PROPN"
                    return c, Entity(c.row.start + start, c.row.start + end, label)
    return None


def _less_question_words(span, q: Question, noun) -> list:
    """The span's words without punctuation ("Sykes's," → Sykes) and without the question's own
    words at either end ("Fox" of "the KXLV-TV Fox affiliate" when the question says "Fox
    affiliate"), but the asked-for noun itself when it ends the name ("Science Museum")."""
    words = [t for t in span if not t.is_punct and t.tag_ != "POS"]
    while words and words[0].lower_ in q.words:
        words.pop(0)
    while words and words[-1].lower_ in q.words and words[-1].i != noun.i:
        words.pop()
    return words


@lru_cache(maxsize=TAGGED_MEMO_MAX)
def _tagged(sentence: str) -> Doc:
    """The sentence's tags, lemmas and entity types (no dependency parse is read), once per
    sentence: a question asked again, or another question about the same noun, parses nothing."""
    with NLP_LOCK:
        return full_pipeline()(sentence, disable=["parser"])


# Entity labels that can be a name beside a noun: names and places, not figures or dates ("the 2004 season").
_NAMING_LABELS = NAME_LABELS | PLACE_LABELS


def _names_beside(noun):
    """Name spans written beside `noun` in its parse: after it, over at most one more common noun
    ("consultancy group Capgemini", "auctioneers Cooper Owen"), then before it ("the WRAZ-TV Fox
    affiliate"), with the noun itself when the name ends in it ("the Science Museum"). A name is a
    run of proper nouns or tokens the tagger put in a name entity; tokens joined without a space
    ("WRAZ-TV") stay together. A place or nationality before the noun says where the thing is from,
    not what it is called ("U.S. movie theaters")."""
    doc = noun.doc
    after = noun.i + 1
    if after < len(doc) and doc[after].pos_ == "NOUN" and not _is_name(doc[after]):
        after += 1
    if after < len(doc) and _is_name(doc[after]):
        yield _name_run(doc, after, 1)
    if noun.i > 0 and _is_name(doc[noun.i - 1]) and doc[noun.i - 1].ent_type_ not in PLACE_LABELS:
        run = _name_run(doc, noun.i - 1, -1)
        # A capitalised noun is part of the name ("the Science Museum" for "which museum").
        yield doc[run.start : noun.i + 1] if _is_name(noun) and noun.text[:1].isupper() else run


def _hyphenated(noun) -> bool:
    """Part of a hyphenated word ("year-end", "end-user"): not the noun itself."""
    doc = noun.doc
    before = noun.i > 0 and doc[noun.i - 1].text == "-" and not doc[noun.i - 1].whitespace_
    after = noun.i + 1 < len(doc) and doc[noun.i + 1].text == "-" and not noun.whitespace_
    return before or after


def _is_name(token) -> bool:
    return token.pos_ == "PROPN" or (token.ent_type_ in _NAMING_LABELS and token.pos_ not in ("DET", "PUNCT", "ADP", "CCONJ"))


def _name_run(doc, i: int, step: int):
    """The run of words that are names from the word holding token `i`, in direction `step` (1 or
    -1). A word is what spaces delimit, so "WRAZ-TV" is one, a name when any of its tokens is."""
    lo, hi = _word(doc, i)
    while 0 <= (nxt := hi + 1 if step > 0 else lo - 1) < len(doc):
        w_lo, w_hi = _word(doc, nxt)
        if not any(_is_name(t) for t in doc[w_lo : w_hi + 1]):
            break
        lo, hi = min(lo, w_lo), max(hi, w_hi)
    return doc[lo : hi + 1]


def _word(doc, i: int) -> tuple[int, int]:
    """First and last token of the space-delimited word holding token `i`."""
    lo = hi = i
    while lo > 0 and not doc[lo - 1].whitespace_:
        lo -= 1
    while hi + 1 < len(doc) and not doc[hi].whitespace_:
        hi += 1
    return lo, hi


def precision(q: Question, row: SentenceRow, v: Entity) -> int:
    """How precisely the value answers: 0 when vague; 1 for a name; 2 for a figure when the
    question asks for a measure or a time ("37 days" before "Sunday" for "how long", "29 April"
    before "January"); 3 for a year when it asks for a year, or for a calendar date (a month and a
    number) when it asks on what date."""
    if is_vague(row, v):
        return 0
    text = row.text[v.start - row.start : v.end - row.start]
    if q.focus == "year" and states_year(text):
        return 3
    if q.exact and q.focus in ("date", "day") and names_calendar_date(text):
        return 3
    return 2 if q.numeric and states_figure(text) else 1


def is_vague(row: SentenceRow, v: Entity) -> bool:
    """The value states no figure or name ("millions of euros", "the past year")."""
    return vague(row.text[v.start - row.start : v.end - row.start], at_start=v.start == row.start)


def short_answer(picked: tuple[ValuedSentence, Entity], citations: list[Citation], evidence: Evidence) -> ShortAnswer:
    """The picked value as a span of its cited sentence ("26", "April 22", "Robert Sillerman")."""
    c, value = picked
    doc = evidence.document(c.row.doc_id)
    text = c.row.text[value.start - c.row.start : value.end - c.row.start]
    n = next((x.n for x in citations if x.doc_id == c.row.doc_id and x.start == c.row.start), 1)
    return ShortAnswer(text=text, doc_id=c.row.doc_id, start=value.start, end=value.end, label=value.label,
                       citation=n, source=doc.source if doc else "")


def value_key(row: SentenceRow, v: Entity) -> str:
    """The value's words, as the votes count them ("$9.3bn" in two stories is one value)."""
    return " ".join(row.text[v.start - row.start : v.end - row.start].lower().split())


__all__ = ["pick_short", "likely_label", "apposed_name", "precision", "is_vague", "short_answer", "value_key"]
