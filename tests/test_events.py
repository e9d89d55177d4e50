"""The verb check: does the answer value belong to the event the question asks about? spaCy's real
parse (the bundled small English model); the decision model's arithmetic on a hand-made model."""

from __future__ import annotations

import numpy as np
import pytest

import rag.answer.extractive as extractive
from rag.answer.events import governing_verb, same_event
from rag.answer.extractive import DECISION_FEATURES, FEATURES, AnswerModel, Candidate, ExtractiveAnswerer
from rag.answer.question import analyse
from rag.config import Config
from rag.schema import Chunk, Passage, SentenceRow
from rag.text.entities import Entity

SENTENCE = "The minister told reporters on Monday that the showroom would open in May."


def _value(text: str, offset: int = 100) -> Entity:
    at = SENTENCE.index(text)
    return Entity(offset + at, offset + at + len(text), "DATE")


def test_a_value_belongs_to_the_verb_it_hangs_from():
    question = analyse("On what date did the showroom open?")
    assert question.verbs == ("open",)
    assert governing_verb(SENTENCE, _value("Monday"), 100) == "tell"
    assert governing_verb(SENTENCE, _value("May"), 100) == "open"
    assert not same_event(question.verbs, governing_verb(SENTENCE, _value("Monday"), 100))
    assert same_event(question.verbs, governing_verb(SENTENCE, _value("May"), 100))
    assert same_event(analyse("When will the showroom be opened?").verbs, "open")  # stemmed: "opened" / "open"


def _model(bias: float, weight: float) -> AnswerModel:
    decide = [0.0] * len(DECISION_FEATURES)
    decide[DECISION_FEATURES.index("same_event")] = weight
    return AnswerModel((0.0,) * len(FEATURES), tuple(decide), bias, 0.5, 1.5, 0.72)


def _candidate() -> Candidate:
    row = SentenceRow("d1", 100, 100 + len(SENTENCE), SENTENCE)
    passage = Passage(Chunk("d1-0", "d1", SENTENCE, 100, 100 + len(SENTENCE), "Showroom"), 1.0, 1)
    return Candidate(row, passage, np.zeros(4, dtype=np.float32), np.zeros(len(FEATURES), dtype=np.float32), set(),
                     [_value("Monday")], eligible=True)


@pytest.mark.parametrize(("bias", "parsed"), [(1.0, False), (-1.0, True), (-3.0, False)])
def test_the_verb_check_runs_only_when_it_can_change_the_decision(monkeypatch, bias, parsed):
    # weight 2: without a matching verb the probability is sigma(bias), with one sigma(bias + 2);
    # the threshold is 0.5, so only bias -1 puts the two on either side of it.
    calls: list[str] = []

    def check(question, c):
        calls.append(c.row.text)
        return False

    monkeypatch.setattr(extractive, "verb_check", check)
    answerer = ExtractiveAnswerer(Config(), model=_model(bias, 2.0))
    p = answerer.confidence(analyse("On what date did the showroom open?"), [_candidate()])
    assert bool(calls) is parsed
    assert p == pytest.approx(1 / (1 + np.exp(-bias)))  # the check found no matching verb, or was not needed


def test_no_eligible_sentence_has_no_confidence():
    c = _candidate()
    c.eligible = False
    assert ExtractiveAnswerer(Config(), model=_model(0.0, 2.0)).confidence(analyse("When?"), [c]) == 0.0
