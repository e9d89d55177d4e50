"""Does a sentence hold the kind of thing the question asks for?

Similarity alone cannot tell "the articles mention fighter jets" from "the articles say how many
fighter jets": unanswerable questions are usually on-topic. So the question's expected answer
(a count, an amount of money, a date, a person, a place, a name) must be present in the evidence,
and must be new: a date the question itself mentions does not answer "when".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class AnswerType(str, Enum):
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    NAME = "name"
    ANY = "any"


@dataclass(frozen=True)
class Expectation:
    kind: AnswerType
    exact: bool = False  # "exact", "which date", "what day": a vague "this month" does not do
    unit: str = ""  # "how many metres" asks for a measurement in that unit
    counted: str = ""  # "how many tourists": the thing counted
    weekday: bool = False  # "which day of the week"
    year: bool = False  # "what year", "by when"


_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|half|double|twice|tenfold"
)
_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"
_WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_CURRENCY = re.compile(r"[$€£¥₹]|\b(US\$|USD|EUR|INR|JPY|rupees?|crores?|lakhs?|dollars?|euros?|yen|pounds?)\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)s?\b")
_SPECIFIC_DATE = re.compile(rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b|\b({_WEEKDAYS})\b", re.I)
_DAY_OF_MONTH = re.compile(rf"\b({_MONTHS}) \d{{1,2}}\b|\b\d{{1,2}} ({_MONTHS})\b")
_VAGUE_DATE = re.compile(
    r"\b(yesterday|today|tomorrow|(last|next|this|earlier this|later this) (week|month|year)|weekend|"
    r"decades?|years? ago|months? ago|recently|since)\b",
    re.I,
)
_UNITS = {
    "metre": r"m|metres?|meters?", "meter": r"m|metres?|meters?", "kilometre": r"km|kilometres?|kilometers?",
    "kilometer": r"km|kilometres?|kilometers?", "mile": r"miles?", "tonne": r"tonnes?|tons?", "ton": r"tonnes?|tons?",
    "kilogram": r"kg|kilograms?", "feet": r"feet|ft", "foot": r"feet|ft", "hour": r"hours?", "minute": r"minutes?",
    "day": r"days?", "week": r"weeks?", "month": r"months?", "year": r"years?", "percent": r"%|per ?cent",
    "dollar": r"dollars?|\$", "rupee": r"rupees?|crores?|lakhs?", "yen": r"yen",
}
_ROLE = re.compile(
    r"\b(Minister|President|Premier|Prime Minister|PM|CEO|Chief|Secretary|Diplomat|Professor|Gen|General|"
    r"Admiral|Ambassador|Chairman|Director|Governor|King|Emperor|Mr|Mrs|Ms|Dr|Lt|Col)\.?$"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z’'.-]*")

_QUESTION_KINDS = [
    (re.compile(r"\b(how much (money|did|does|will|would|is|was)\b.*\b(cost|pay|spend|worth)|cost|price|budget|worth|"
                r"dollar|funding|how expensive|valued at)\b", re.I), AnswerType.MONEY),
    (re.compile(r"\b(how many|how much|how long|how old|how far|how large|how big|how high|how tall|what size|"
                r"what (percentage|percent|share|proportion|number)|by how much|what per ?cent)\b", re.I), AnswerType.NUMBER),
    (re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month|calendar date)|"
                r"on what (date|day)|since when|by what year|by when)\b", re.I), AnswerType.DATE),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwho (is|was|were|are|did|has|had|will|hosted|said|met|leads?|asked|wrote|"
                r"invited|chaired|co-chaired)\b|\bwhich (\w+ )?(minister|official|leader|person|people|professor|analyst|"
                r"diplomat|politician|premier|president|secretary|general|author|reporter|journalist)\b|"
                r"\bname of the (\w+ )*(minister|official|leader|person|diplomat|secretary|author|ceo|general|professor)\b",
                re.I), AnswerType.PERSON),
    (re.compile(r"^\s*where\b|\bin which (\w+ )?(city|country|state|region|place|town)\b|\b(which|what) (\w+ )?"
                r"(city|country|venue|location|town|state|region)\b", re.I), AnswerType.PLACE),
    (re.compile(r"\b(called|named|name of|what is the name|what's the name)\b", re.I), AnswerType.NAME),
]


def expectation(question: str) -> Expectation:
    q = question.strip()
    for pattern, kind in _QUESTION_KINDS:
        if not pattern.search(q):
            continue
        exact = bool(re.search(r"\b(exact|exactly|precise|specific|calendar|which date|what date|on what date|"
                               r"which day|what day|dates)\b", q, re.I))
        if kind is AnswerType.NUMBER:
            m = re.search(r"\bhow (many|much) ([a-z]+)", q, re.I)
            noun = m.group(2).lower() if m else ""
            unit = next((u for u in _UNITS if noun.startswith(u)), "")
            return Expectation(kind, exact, unit=unit, counted="" if unit else noun)
        if kind is AnswerType.DATE:
            weekday = bool(re.search(r"\bday of the week\b|\bwhich day\b|\bwhat day\b", q, re.I))
            year = bool(re.search(r"\b(what|which|by what) year\b|\bby when\b", q, re.I))
            return Expectation(kind, exact or weekday, weekday=weekday, year=year)
        return Expectation(kind, exact)
    return Expectation(AnswerType.ANY)


def expected_type(question: str) -> AnswerType:
    return expectation(question).kind


class EvidenceChecker:
    """Checks sentences against a question's expectation.

    `is_name` tells a proper name from an ordinary capitalised word: a word the corpus never writes
    in lower case ("Nakatani", "Kananaskis") is a name; "Defence" or "New" are not.
    """

    def __init__(self, question: str, is_name: Callable[[str], bool]) -> None:
        self.question = question
        self.expect = expectation(question)
        self.is_name = is_name
        self._question_words = {w.lower().strip("’'.") for w in _WORD.findall(question)}

    def holds_answer(self, sentence: str) -> bool:
        e, kind = self.expect, self.expect.kind
        if kind is AnswerType.ANY:
            return True
        if kind is AnswerType.MONEY:
            return bool(_CURRENCY.search(sentence)) and bool(re.search(r"\d", sentence) or (not e.exact and _NUMBER.search(sentence)))
        if kind is AnswerType.NUMBER:
            return self._has_count(sentence)
        if kind is AnswerType.DATE:
            return self._has_date(sentence)
        names = self._new_names(sentence)
        if kind is AnswerType.PERSON:
            return self._has_person(sentence)
        if kind is AnswerType.PLACE:
            return bool(names)
        if kind is AnswerType.NAME:
            return bool(names) or bool(re.search(r"\b[A-Z]{2,}(?:-[A-Z]+)*\b", sentence))
        return True

    # -- the kinds -------------------------------------------------------------------------
    def _new_numbers(self, sentence: str) -> list[re.Match]:
        return [m for m in re.finditer(rf"\d[\d,.]*%?|\b({_NUMBER_WORDS})\b", sentence, re.I)
                if m.group(0).lower().strip(".,") not in self._question_words]

    def _has_count(self, sentence: str) -> bool:
        numbers = self._new_numbers(sentence)
        if not numbers:
            return False
        e = self.expect
        if e.unit and e.unit in _UNITS:
            unit = _UNITS[e.unit]
            return any(re.match(rf"\s*(-|\s)?({unit})\b", sentence[m.end():], re.I) or
                       (unit.startswith("%") and m.group(0).endswith("%")) for m in numbers)
        if e.counted and re.search(rf"\b{re.escape(e.counted[:5])}", sentence, re.I):
            # The counted thing is named: the number must stand right before it ("26 tourists").
            return any(re.match(rf"[\s\w-]{{0,25}}?\b{re.escape(e.counted[:5])}", sentence[m.end():], re.I) for m in numbers)
        return True

    def _has_date(self, sentence: str) -> bool:
        e = self.expect
        new = [m.group(0) for m in _SPECIFIC_DATE.finditer(sentence) if m.group(0).lower() not in self._question_words]
        if e.weekday:
            return any(re.fullmatch(_WEEKDAYS, d, re.I) for d in new) or bool(_DAY_OF_MONTH.search(sentence))
        if e.year:
            return any(_YEAR.fullmatch(d) for d in new)
        if e.exact:
            return any(re.fullmatch(_MONTHS, d, re.I) for d in new) and bool(re.search(r"\d", sentence))
        return bool(new) or bool(_VAGUE_DATE.search(sentence))

    def _new_names(self, sentence: str) -> list[str]:
        words = _WORD.findall(sentence)
        return [w for i, w in enumerate(words) if i > 0 and w[0].isupper() and self.is_name(w.strip("’'."))
                and w.lower().strip("’'.").removesuffix("’s").removesuffix("'s") not in self._question_words]

    def _has_person(self, sentence: str) -> bool:
        words = _WORD.findall(sentence)
        for i in range(1, len(words)):
            w = words[i].strip("’'.,").removesuffix("’s").removesuffix("'s")
            if not w or not w[0].isupper() or not self.is_name(w) or w.lower() in self._question_words:
                continue
            prev = words[i - 1]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if _ROLE.search(prev) or re.fullmatch(r"(?:[A-Z]\.){1,3}", prev):
                return True
            if nxt[:1].isupper() and self.is_name(nxt.strip("’'.,").removesuffix("’s").removesuffix("'s")):
                return True
            if prev[:1].isupper() and self.is_name(prev.strip("’'.,")) and i - 1 > 0:
                return True
        return False
