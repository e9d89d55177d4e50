"""Does a sentence hold what the question asks for, about what the question names?

Pure functions over text and entity spans (rag.entities); no store, no model.

Similarity cannot tell "the articles mention Chalone's revenue" from "the articles give Chalone's
revenue for 2004": unanswerable questions are on topic. Two checks can:
- the answer value: the sentence holds an entity of a type the question expects (rag.question)
  that the question does not already state;
- the constraints: every name, place, year and figure the question uses holds in the same story
  (and, as a graded feature, in the sentence itself), so a count about another country's army or
  a figure for another year does not answer.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.entities import Entity
from rag.question import PLACE, VALUE, YEAR, Constraint, Question

_ALIASES_FILE = Path(__file__).parent / "data" / "place_aliases.json"
_WORD = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")
# An answer value within this many words of a question word stands beside it (the value of
# "profits at Time Warner", not of another figure at the far end of a long sentence).
NEAR_WORDS = 10
_MAX_ACRONYM = 6  # words; longer capitalised runs are headline lists, not names


@dataclass(frozen=True)
class Text:
    """What a stretch of text says, for constraint checks: its words, its text, its acronyms."""

    lower: str
    words: frozenset[str]
    acronyms: frozenset[str]
    caps: frozenset[str]  # words written in capitals ("US", "UK"), lower-cased: "us" the pronoun is not "US"
    stems: frozenset[str]  # stemmed words ("democrats" and "democrat" agree)


def text_view(text: str) -> Text:
    lower = text.lower().replace("’", "'")
    words = set(_WORD.findall(lower))
    words |= {w[:-2] for w in words if w.endswith("'s")}
    words |= {part for w in words if "." in w for part in w.split(".")}  # "defencematters.in", "u.s."
    # "European Union" also answers to "EU", "Time Warner" to "timewarner".
    runs = re.findall(r"(?:\b[A-Z][\w'’-]*(?:\s+(?:of|and|for|the|de)?\s*[A-Z][\w'’-]*)+)", text)
    acronyms: set[str] = set()
    for r in runs:
        caps = [w for w in r.split() if w[:1].isupper()]
        for i in range(len(caps)):  # every sub-run: "The European Union" gives "eu" as well as "teu"
            for j in range(i + 2, min(len(caps), i + _MAX_ACRONYM) + 1):
                acronyms.add("".join(w[0] for w in caps[i:j]).lower())
                acronyms.add("".join(caps[i:j]).lower())
    caps = {w.lower() for w in re.findall(r"\b[A-Z][A-Z.]*[A-Z]\b", text)}
    return Text(lower, frozenset(words), frozenset(acronyms), frozenset(caps), frozenset(_stem(w) for w in words))


@lru_cache(maxsize=1)
def place_aliases() -> dict[str, frozenset[str]]:
    """word → the other words news uses for the same place (rag/data/place_aliases.json)."""
    data = json.loads(_ALIASES_FILE.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for group in data["groups"]:
        names = {w.lower() for w in group}
        for w in names:
            out.setdefault(w, set()).update(names)
    return {k: frozenset(v) for k, v in out.items()}


def _stem(word: str) -> str:
    from rag.lexical import stem

    return stem(word)


def _words(c: Constraint) -> list[str]:
    """The constraint's words as text_view splits text ("T-Mobile's" → t, mobile), one-letter ones aside."""
    out = []
    for w in c.words:
        out += [x[:-2] if x.endswith("'s") else x for x in _WORD.findall(w.lower().replace("’", "'"))]
    return [w for w in out if len(w) > 1]


def _word_holds(word: str, text: Text, loose: bool, capitals: bool = False) -> bool:
    if " " in word:
        return word in text.lower
    if capitals or len(word) <= 2:  # "US", "UK": in lower case they are other words
        return word in text.caps or word in text.acronyms
    if word in text.words or word in text.acronyms or _stem(word) in text.stems:
        return True
    if loose and len(word) >= 5:
        # "Japanese" ↔ "Japan", "British" ↔ "Britain": the shared stem of a place and its people.
        stem = word[: max(4, len(word) - 3)]
        return any(w.startswith(stem) for w in text.words)
    return False


def holds(c: Constraint, text: Text) -> bool:
    """The constraint is stated in `text`."""
    if c.kind == YEAR:
        return c.words[0] in text.words or any(w.startswith(c.words[0]) for w in text.words if len(w) == 5)
    if c.kind == VALUE:
        return all(re.search(rf"(?<![\d.,]){re.escape(d)}(?![\d]|[.,]\d)", text.lower) for d in c.words)
    words = _words(c)
    if not words:
        return True
    capitals = c.text.isupper()
    phrase = " ".join(words)
    if phrase in text.lower or "".join(words) in text.acronyms or "".join(words) in text.words:
        return True
    if c.kind == PLACE:
        # Any name of the same place will do ("the United States" / "US", "Japanese" / "Japan").
        for alias in place_aliases().get(phrase, ()):
            if _word_holds(alias, text, loose=False, capitals=len(alias) <= 3 and "." not in alias):
                return True
        alias_sets = [place_aliases().get(w, frozenset()) | {w} for w in words]
        return all(any(_word_holds(a, text, loose=True, capitals=capitals and a == w) for a in alts)
                   for w, alts in zip(words, alias_sets))
    # A name: every word (its initials, or run together: "EU", "TimeWarner"); a person's surname
    # alone (news uses it after the first mention); two of three words of a long name.
    found = [_word_holds(w, text, loose=False, capitals=capitals) for w in words]
    if c.label == "PERSON":
        return found[-1]
    return all(found) or (len(found) >= 3 and sum(found) * 3 >= 2 * len(found))


def hard_constraints_hold(constraints: tuple[Constraint, ...], text: Text) -> bool:
    return all(holds(c, text) for c in constraints if c.hard)


def constraint_share(constraints: tuple[Constraint, ...], text: Text) -> float:
    """Share of the constraints stated in `text` (1.0 when the question names nothing)."""
    if not constraints:
        return 1.0
    return sum(holds(c, text) for c in constraints) / len(constraints)


def entities_in(entities: list[list], start: int, end: int, starts: list[int] | None = None) -> list[Entity]:
    """The entity spans [start, end, label] that lie inside [start, end) (entities sorted by start)."""
    starts = starts if starts is not None else [e[0] for e in entities]
    out = []
    for i in range(bisect_left(starts, start), len(entities)):
        s, e, label = entities[i]
        if s >= end:
            break
        if e <= end:
            out.append(Entity(s, e, label))
    return out


def answer_values(q: Question, sentence: str, offset: int, entities: list[Entity]) -> list[Entity]:
    """Entities of an expected type in the sentence that the question does not already state."""
    if not q.expects:
        return []
    out = []
    for e in entities:
        if e.label not in q.expects:
            continue
        words = _WORD.findall(sentence[e.start - offset : e.end - offset].lower())
        if words and not all(w in q.words for w in words):
            out.append(e)
    return out


def near_question(q: Question, sentence: str, offset: int, values: list[Entity], question_terms: set[str], terms) -> list[Entity]:
    """The values standing within NEAR_WORDS words of a word the question uses."""
    tokens = [(m.start() + offset, m.group(0)) for m in _WORD.finditer(sentence.lower())]
    anchors = [i for i, (_, w) in enumerate(tokens) if set(terms(w)) & question_terms]
    if not anchors:
        return []
    positions = [p for p, _ in tokens]
    out = []
    for v in values:
        i = bisect_left(positions, v.start)
        j = bisect_left(positions, v.end)
        if any(min(abs(a - i), abs(a - j)) <= NEAR_WORDS for a in anchors):
            out.append(v)
    return out
