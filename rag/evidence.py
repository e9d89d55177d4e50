"""Does a sentence hold the kind of thing the question asks for?

Similarity alone cannot tell "the articles mention fighter jets" from "the articles say how many
fighter jets": unanswerable questions are usually on-topic. So the question's expected answer type
(a number, an amount of money, a date, a person, a place) must be present in the evidence.
"""

from __future__ import annotations

import re
from enum import Enum


class AnswerType(str, Enum):
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    ANY = "any"


_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|half|double|twice|"
    r"first|second|third|fourth|fifth|tenfold"
)
_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"
_HAS_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_HAS_MONEY = re.compile(
    r"[$€£¥₹]|\b(US\$|USD|EUR|rupees?|crore|lakh|dollars?|euros?|yen|pounds?)\b|\b\d[\d,.]*\s*(million|billion|trillion|bn|m)\b",
    re.I,
)
_HAS_DATE = re.compile(
    rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b|\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"\b(yesterday|today|tomorrow|last (week|month|year)|next (week|month|year)|this (week|month|year)|"
    r"earlier this (week|month|year)|weekend|decades?|years? ago|since)\b",
    re.I,
)
_PERSON_ROLE = re.compile(
    r"\b(minister|president|premier|prime minister|pm|ceo|chief|secretary|diplomat|professor|spokes\w+|"
    r"general|admiral|ambassador|chairman|director|official|analysts?|governor|king|emperor)\b",
    re.I,
)
# Two or more capitalised words in a row ("Rajnath Singh", "Mark Carney"), not at sentence start.
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:[ -](?:[A-Z]\.|[A-Z][a-z]+))+")
_CAPITALISED = re.compile(r"(?<!^)\b[A-Z][a-z]{2,}")

_QUESTION_TYPES = [
    (re.compile(r"\b(how much|what (is|was|were|are) the (cost|price|value|budget)|how expensive|what did .* cost|price|worth)\b", re.I), AnswerType.MONEY),
    (re.compile(r"\b(how many|how much|how long|how old|how far|what (percentage|percent|share|proportion|number)|by how much|what per ?cent)\b", re.I), AnswerType.NUMBER),
    (re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month)|since when|by what year)\b", re.I), AnswerType.DATE),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwho (is|was|were|are|did|has|had|will|hosted|said|met|leads?)\b|\bwhich (minister|official|leader|person|people|professor|analyst|diplomat|politician)\b|\bname of the\b", re.I), AnswerType.PERSON),
    (re.compile(r"^\s*where\b|\bin which (city|country|state|region|place)\b|\bwhat (city|country|venue|location)\b", re.I), AnswerType.PLACE),
]


def expected_type(question: str) -> AnswerType:
    for pattern, kind in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return AnswerType.ANY


def has_type(sentence: str, kind: AnswerType) -> bool:
    if kind is AnswerType.ANY:
        return True
    if kind is AnswerType.MONEY:
        return bool(_HAS_MONEY.search(sentence))
    if kind is AnswerType.NUMBER:
        return bool(_HAS_NUMBER.search(sentence))
    if kind is AnswerType.DATE:
        return bool(_HAS_DATE.search(sentence))
    if kind is AnswerType.PERSON:
        return bool(_NAME.search(sentence) or _PERSON_ROLE.search(sentence))
    if kind is AnswerType.PLACE:
        return bool(_CAPITALISED.search(sentence))
    return True
