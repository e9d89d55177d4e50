"""The direct answer: the value the question asks for, taken from one of the answer's sentences.

"How many tourists died?" gets "26" before the quoted sentence that says so. The value is a span
of the cited sentence (with its offsets), one of the answer values the evidence step found there
(rag.answer.evidence.answer_values). Which one, in order:

1. How precisely it answers: a figure or a name goes before a vague value ("$14.5m" before
   "millions"), a figure before a name for a measure or a time, a year when a year is asked for,
   a calendar date ("16 January 1996", not "Friday" or "45 years ago") when a date is. An amount
   in brackets after another is its conversion, never the answer.
2. The type the question most likely asks for: a person for "who", a place for "where".
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
from typing import Protocol, TypeVar

from rag.answer.evidence import conversion, names_calendar_date, share_near, states_figure, states_year, vague
from rag.answer.question import Question
from rag.retrieve.context import Evidence
from rag.schema import Citation, SentenceRow, ShortAnswer
from rag.text.entities import Entity
from rag.tunables import AnswerTunables


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
    sentence holds no value of the type asked for."""
    if not chosen[0].values:
        return None
    best_score = chosen[0].score
    votes: dict[str, float] = {}
    for c in voters:
        weight = math.exp(c.score - best_score)  # the ranker's scores are log-odds
        for key in {value_key(c.row, v) for v in c.values}:
            votes[key] = votes.get(key, 0.0) + weight

    def order(option: tuple[int, S, int, Entity]) -> tuple[int, bool, float, float, int, int]:
        rank, c, i, v = option
        near = share_near(c.row.text, c.row.start, v, q_terms, tunables.short_near_words)
        return (precision(q, c.row, v), v.label == q.primary, near, votes.get(value_key(c.row, v), 0.0), -rank, -i)

    options = [(rank, c, i, v) for rank, c in enumerate(chosen) for i, v in enumerate(c.values)
               if not conversion(c.row.text, c.row.start, v, c.values)]
    _, c, _, v = max(options, key=order)
    return c, v


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


__all__ = ["pick_short", "precision", "is_vague", "short_answer", "value_key"]
