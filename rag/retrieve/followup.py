"""Turn a follow-up ("When was that agreed?") into a standalone search query, without an LLM.

Only earlier *questions* shape the query: earlier answers and their sources are never fed back,
so a wrong answer cannot drag the next search after it.
"""

from __future__ import annotations

import re
from typing import Any

from rag.text.lexical import terms
from rag.tunables import RetrievalTunables

_ANAPHORA = re.compile(
    r"\b(that|this|these|those|it|its|they|them|their|he|him|his|she|her|there|then|the same|such|"
    r"the (deal|offer|agreement|meeting|visit|attack|plan|programme|program|framework|country|countries|minister|story|article))\b",
    re.I,
)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|why|so|but|any|anything else|more on)\b", re.I)
_RETRIEVE = RetrievalTunables()


def user_questions(history: list[Any] | None) -> list[str]:
    """Earlier user questions from the history formats callers use: strings, (question, answer)
    pairs, or chat messages {"role": "user", "content": ...}."""
    questions: list[str] = []
    for turn in history or []:
        if isinstance(turn, str):
            questions.append(turn)
        elif isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                questions.append(turn["content"])
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            questions.append(turn[0])
    return [q.strip() for q in questions if q and q.strip()]


def is_followup(question: str, tunables: RetrievalTunables = _RETRIEVE) -> bool:
    return bool(
        _ANAPHORA.search(question)
        or _CONTINUATION.match(question)
        or len(terms(question)) <= tunables.followup_max_terms
    )


def condense(question: str, history: list[str], tunables: RetrievalTunables = _RETRIEVE) -> str:
    """The standalone query: the question, plus the topic of the conversation when it refers back."""
    if not history or not is_followup(question, tunables):
        return question
    # Walk back to the last self-contained question: that is the topic being followed up.
    topic = [history[-1]]
    for earlier in reversed(history[:-1]):
        if not is_followup(topic[0], tunables):
            break
        topic.insert(0, earlier)
    return f"{question.strip()} ({' '.join(topic)})"
