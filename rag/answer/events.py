"""Is the answer value about the event the question asks about?

"On what date did the showroom open?" is not answered by "the minister told reporters on Monday
that …": the sentence holds a date, the question's names, even the word "showroom", but its date
belongs to "told". spaCy's dependency parse gives the verb a value hangs from, and its lemma says
whether that is one of the question's own verbs ("opened" / "open", not "told").

The decision model reads it for the sentence it decides on (`DECISION_FEATURES`, "same_event").
Out of fold on the dev questions (2026-12-04, scripts/fit_answer_model.py's procedure, kept ranker),
abstention at 5% of answerable questions refused rose from 0.373 to 0.410. Whether any verb of the
sentence is the question's gave 0.401; the embedding model's similarity of the two verbs added
nothing beyond it (2026-12-03), at two model calls a question.

A parse of that one sentence, without the entity recogniser, costs several milliseconds, so the
answer step asks only when the answer could move the decision across its threshold
(rag.answer.extractive.ExtractiveAnswerer.confidence).
"""

from __future__ import annotations

from functools import lru_cache

from rag.text.entities import NLP_LOCK, Entity, full_pipeline
from rag.text.lexical import terms

# Verbs that carry tense or mood, not an event ("did it open", "has it been held"): grammar, not a
# list drawn from any question set.
_LIGHT_VERBS = frozenset({"be", "do", "have"})


def event_verbs(doc) -> tuple[str, ...]:
    """A parsed question's event verbs, as lemmas: its verbs other than be/do/have, else its root."""
    verbs = [t.lemma_.lower() for t in doc if t.pos_ == "VERB" and t.lemma_.lower() not in _LIGHT_VERBS]
    return tuple(dict.fromkeys(verbs)) or tuple(t.lemma_.lower() for t in doc if t.dep_ == "ROOT")


def governing_verb(sentence: str, value: Entity | None, offset: int) -> str:
    """The lemma of the nearest event verb above the value in the sentence's parse (the root's,
    when the value hangs from none, or there is no value)."""
    return _verb_above(sentence, value.start - offset if value else -1, value.end - offset if value else -1)


@lru_cache(maxsize=1024)  # the eval and follow-ups ask of the same sentences again: keep the lemma, not the parse
def _verb_above(sentence: str, start: int, end: int) -> str:
    with NLP_LOCK:  # one parse at a time: the app answers in several threads
        doc = full_pipeline()(sentence, disable=["ner"])
    if start >= 0:
        token = next((t for t in doc if start <= t.idx < end), None)
        if token is not None:
            for head in token.ancestors:
                if head.pos_ == "VERB" and head.lemma_.lower() not in _LIGHT_VERBS:
                    return head.lemma_.lower()
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    return root.lemma_.lower() if root is not None else ""


def same_event(question_verbs: tuple[str, ...], verb: str) -> bool:
    """The sentence's verb is one of the question's (stemmed: "opened" / "open")."""
    return bool(verb) and any(set(terms(verb)) & set(terms(q)) for q in question_verbs)
