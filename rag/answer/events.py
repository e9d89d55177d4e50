"""Is the answer value about the event the question asks about?

"On what date did the showroom open?" is not answered by "the minister told reporters on Monday
that …": the sentence holds a date, the question's names, even the word "showroom", but its date
belongs to "told". spaCy's dependency parse gives the verb a value hangs from, and its lemma says
whether that is the question's own verb ("opened" / "open", not "told").

Measured on the dev questions (scripts/fit_answer_model.py): the same verb raised abstention at
5% refused from 0.36–0.40 to 0.42–0.45 (out of fold, L2 C 0.1–0.3); the embedding model's similarity of the two verbs added nothing
beyond it, at two model calls a question, so it is not used.

The answer step parses only the sentence it is about to answer with (about 8 ms without the
entity recogniser, whose spans are cached at index time), so this costs one parse a question.
"""

from __future__ import annotations

from functools import lru_cache

from rag.text.entities import NLP_LOCK, Entity, full_pipeline
from rag.text.lexical import terms

# Verbs that carry tense or mood, not an event ("did it open", "has it been held"): grammar, not a
# list drawn from any question set.
_LIGHT_VERBS = frozenset({"be", "do", "have"})


@lru_cache(maxsize=256)  # the eval and follow-ups ask of the same sentences again
def _parse(text: str):
    with NLP_LOCK:  # one parse at a time: the app answers in several threads
        return full_pipeline()(text, disable=["ner"])


def event_verbs(doc) -> tuple[str, ...]:
    """A parsed question's event verbs, as lemmas: its verbs other than be/do/have, else its root."""
    verbs = [t.lemma_.lower() for t in doc if t.pos_ == "VERB" and t.lemma_.lower() not in _LIGHT_VERBS]
    return tuple(dict.fromkeys(verbs)) or tuple(t.lemma_.lower() for t in doc if t.dep_ == "ROOT")


def governing_verb(sentence: str, value: Entity | None, offset: int) -> str:
    """The lemma of the nearest event verb above the value in the sentence's parse (the root's,
    when the value hangs from none, or there is no value)."""
    doc = _parse(sentence)
    if value is not None:
        start, end = value.start - offset, value.end - offset
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
