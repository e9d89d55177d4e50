"""The short answer's value choice (rag.answer.extractive.short_options / pick_short), on synthetic
sentences and hand-placed entity spans: pure functions, no index and no model."""

from __future__ import annotations

import numpy as np

from rag.answer.evidence import value_distances
from rag.answer.extractive import SHORT_FEATURES, Candidate, pick_short, short_options
from rag.answer.question import analyse
from rag.schema import Chunk, Passage, SentenceRow
from rag.text.entities import Entity
from rag.text.lexical import terms


def span(text: str, part: str, label: str, offset: int = 0) -> Entity:
    i = text.index(part)
    return Entity(offset + i, offset + i + len(part), label)


def candidate(text: str, values: list[Entity], score: float, question: str, doc: str = "d1", offset: int = 0,
              by_focus: tuple[Entity, ...] = ()) -> Candidate:
    row = SentenceRow(doc, offset, offset + len(text), text)
    chunk = Chunk(f"{doc}-c0", doc, text, offset, offset + len(text))
    q_terms = set(terms(question))
    c = Candidate(row, Passage(chunk, 1.0, 1), np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.float32),
                  set(terms(text)), values, True, distances=value_distances(text, offset, values, q_terms, terms),
                  by_focus=frozenset(by_focus))
    c.score = score
    return c


def feature(row: np.ndarray, name: str) -> float:
    return float(row[SHORT_FEATURES.index(name)])


def test_value_distances_count_words_to_the_nearest_question_word():
    text = "Shares in Acme rose 5% on Monday, while Globex fell 2% after the results."
    five, two = span(text, "5%", "PERCENT"), span(text, "2%", "PERCENT")
    d = value_distances(text, 0, [five, two], set(terms("Acme shares")), terms)
    assert d[five] < d[two]
    assert value_distances(text, 0, [five], set(terms("unrelated words")), terms) == {}


def test_short_options_describe_each_value_of_the_answer():
    q = analyse("How much did Acme's shares rise?")
    text = "Shares in Acme rose 5% on Monday, while Globex fell 2% after the results."
    five, two = span(text, "5%", "PERCENT"), span(text, "2%", "PERCENT")
    best = candidate(text, [five, two], 0.0, q.text)
    other_text = "Acme's 5% rise was its best day this year."
    other = candidate(other_text, [span(other_text, "5%", "PERCENT", 200)], -1.0, q.text, offset=200)
    options = short_options([best], [best, other], q)
    rows = {best.row.text[v.start - best.row.start : v.end - best.row.start]: f for _, v, f in options}
    assert set(rows) == {"5%", "2%"}
    assert feature(rows["5%"], "votes") == 1.0 > feature(rows["2%"], "votes")  # repeated by the other sentence
    assert feature(rows["5%"], "near") > feature(rows["2%"], "near")
    assert feature(rows["5%"], "order") > feature(rows["2%"], "order")
    assert feature(rows["5%"], "position") < feature(rows["2%"], "position")
    assert all(feature(f, "best_sentence") == 1.0 for f in rows.values())


def test_pick_short_follows_the_fitted_weights_and_falls_back_to_votes():
    q = analyse("How many goals did Smith score?")
    text = "In 12 seasons Smith scored 158 goals for the club."
    twelve, goals = span(text, "12", "CARDINAL"), span(text, "158", "CARDINAL")
    c = candidate(text, [twelve, goals], 0.0, q.text, by_focus=(goals,))
    by_focus = tuple(1.0 if n == "by_focus" else 0.0 for n in SHORT_FEATURES)
    assert pick_short([c], [c], q, by_focus)[1] == goals
    first_listed = tuple(1.0 if n == "order" else 0.0 for n in SHORT_FEATURES)
    assert pick_short([c], [c], q, first_listed)[1] == twelve
    assert pick_short([c], [c], q)[1] == twelve  # no weights: equal votes, then the first-listed value


def test_no_short_answer_without_a_value_in_the_best_sentence():
    q = analyse("Who leads the company?")
    c = candidate("The company has a new leader.", [], 0.0, q.text)
    assert pick_short([c], [c], q, tuple(1.0 for _ in SHORT_FEATURES)) is None
