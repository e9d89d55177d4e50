"""Does a sentence hold the kind of thing the question asks for?

Similarity alone cannot tell "the articles mention fighter jets" from "the articles say how many
fighter jets": unanswerable questions are usually on-topic. So the question's expected answer
(a count, an amount of money, a date, a person, a place, a name) must be present in the evidence,
and new: a date the question itself mentions does not answer "when". An answer standing close to
the question's own words ("a Tesla showroom in Mumbai") is stronger evidence than one elsewhere in
the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rag.lexical import terms


class AnswerType(StrEnum):
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
    exact: bool = False  # "exact", "which date": a vague "this month" does not do
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
_NUMBER = re.compile(rf"\d[\d,.]*(?:\s?%|-\w+)?|\b({_NUMBER_WORDS})(?:-\w+)?\b", re.I)
_CURRENCY_WORD = r"US\$|USD|EUR|INR|JPY|rupees?|crores?|lakhs?|dollars?|euros?|yen|pounds?"
_MONEY = re.compile(
    rf"(?:[$€£¥₹]|\b(?:{_CURRENCY_WORD}))\s?\d[\d,.]*(?:\s?(?:million|billion|trillion|bn|m)\b)?|"
    rf"\b\d[\d,.]*\s?(?:million|billion|trillion|bn)?\s?(?:{_CURRENCY_WORD})\b|"
    rf"\b(?:{_NUMBER_WORDS}) (?:of )?(?:{_CURRENCY_WORD})\b",
    re.I,
)
_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)s?\b")
_DAY_OF_MONTH = re.compile(rf"\b(?:{_MONTHS}) \d{{1,2}}\b|\b\d{{1,2}} (?:{_MONTHS})\b")
_SPECIFIC_DATE = re.compile(rf"\b(?:{_MONTHS}) \d{{1,2}}(?:, \d{{4}})?\b|\b\d{{1,2}} (?:{_MONTHS})(?: \d{{4}})?\b|"
                            rf"\b(?:{_MONTHS})(?: \d{{4}})?\b|\b(?:{_WEEKDAYS})\b|\b(?:1[89]\d\d|20\d\d)\b")
_VAGUE_DATE = re.compile(
    r"\b(?:yesterday|today|tomorrow|(?:last|next|this|earlier this|later this) (?:week|month|year)|weekend|"
    r"decades?|\w+ (?:years?|months?|weeks?) ago|recently)\b",
    re.I,
)
_UNITS = {
    "metre": r"m|metres?|meters?", "meter": r"m|metres?|meters?", "kilometre": r"km|kilometres?|kilometers?",
    "kilometer": r"km|kilometres?|kilometers?", "mile": r"miles?", "tonne": r"tonnes?|tons?", "ton": r"tonnes?|tons?",
    "kilogram": r"kg|kilograms?", "feet": r"feet|ft", "foot": r"feet|ft", "hour": r"hours?", "minute": r"minutes?",
    "day": r"days?", "week": r"weeks?", "month": r"months?", "year": r"years?", "percent": r"%|per ?cent",
    "dollar": r"dollars?", "rupee": r"rupees?|crores?|lakhs?", "yen": r"yen",
}
_ROLE = re.compile(
    r"(?:Minister|President|Premier|PM|CEO|Chief|Secretary|Diplomat|Professor|Gen|General|Admiral|Ambassador|"
    r"Chairman|Director|Governor|King|Emperor|Mr|Mrs|Ms|Dr|Lt|Col|Prof|Sen|Rep|Vice|Deputy)\.?"
)
_DEMONYM = re.compile(r"(an|ese|ish|ch|i|ic)$")
_INITIALS = re.compile(r"(?:[A-Z]\.){1,3}")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9’'.$%-]*")

_QUESTION_KINDS = [
    (re.compile(r"\b(how much (money|did|does|will|would|is|was)\b.*\b(cost|pay|spend|worth)|cost|price|budget|worth|"
                r"dollar|funding|how expensive|valued at)\b", re.I), AnswerType.MONEY),
    (re.compile(r"\b(how many|how much|how long|how old|how far|how large|how big|how high|how tall|what size|"
                r"what (percentage|percent|share|proportion|number)|by how much|what per ?cent|"
                r"what (\w+ ){0,2}(target|level|rate|figure|amount|threshold|ceiling|quota)\b)", re.I), AnswerType.NUMBER),
    (re.compile(r"\b(when|what (year|date|day|month|time)|which (\w+ )?(year|dates?|day|month)|"
                r"on what (\w+ )?(date|day)|since when|by what year|by when)\b", re.I), AnswerType.DATE),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwho (is|was|were|are|did|has|had|will|hosted|said|met|leads?|asked|wrote|"
                r"invited|chaired|co-chaired)\b|\bwhich (\w+ )?(minister|official|leader|person|people|professor|analyst|"
                r"member|diplomat|politician|premier|president|secretary|general|author|reporter|journalist)\b|"
                r"\bname of the (\w+ )*(minister|official|leader|person|diplomat|secretary|author|ceo|general|professor)\b",
                re.I), AnswerType.PERSON),
    (re.compile(r"^\s*where\b|\bin which (\w+ )?(city|country|state|region|place|town)\b|\b(which|what) (\w+ )?"
                r"(city|country|venue|location|town|state|region)\b", re.I), AnswerType.PLACE),
    (re.compile(r"\b(called|named|name of|what is the name|what's the name)\b", re.I), AnswerType.NAME),
]
# An answer within this many words of a question word counts as standing beside it.
NEAR_WORDS = 10


def expectation(question: str) -> Expectation:
    q = question.strip()
    for pattern, kind in _QUESTION_KINDS:
        if not pattern.search(q):
            continue
        exact = bool(re.search(r"\b(exact|exactly|precise|specific|calendar|dates)\b", q, re.I))
        if kind is AnswerType.NUMBER:
            m = re.search(r"\bhow (many|much) ([a-z]+)", q, re.I)
            noun = m.group(2).lower() if m else ""
            unit = next((u for u in _UNITS if noun.startswith(u)), "")
            return Expectation(kind, exact, unit=unit, counted="" if unit else noun)
        if kind is AnswerType.DATE:
            weekday = bool(re.search(r"\bday of the week\b|\bwhich day\b|\bwhat day\b", q, re.I))
            year = bool(re.search(r"\b(what|which|by what) year\b|\bby when\b", q, re.I))
            exact = exact or bool(re.search(r"\b(which|what) (\w+ )?dates?\b", q, re.I))
            return Expectation(kind, exact or weekday, weekday=weekday, year=year)
        return Expectation(kind, exact)
    return Expectation(AnswerType.ANY)


def expected_type(question: str) -> AnswerType:
    return expectation(question).kind


class EvidenceChecker:
    """Scores how well a sentence holds the answer a question expects: 0 (not at all) to 1.

    `is_name` tells a proper name from an ordinary capitalised word (the snapshot knows which words
    the corpus also writes in lower case). `common` tells a word so frequent it locates nothing.
    """

    def __init__(self, question: str, is_name: Callable[[str], bool], common: Callable[[str], bool]) -> None:
        self.question = question
        self.expect = expectation(question)
        self.is_name = is_name
        self._question_words = {_bare(w).lower() for w in _WORD.findall(question)}
        self._question_terms = {t for t in terms(question) if not common(t)}

    def support(self, sentence: str) -> float:
        if self.expect.kind is AnswerType.ANY:
            return 1.0
        spans = self._answer_spans(sentence)
        if not spans:
            return 0.0
        anchors = [m.start() for m in _WORD.finditer(sentence) if set(terms(m.group(0))) & self._question_terms]
        words_between = lambda a, b: len(_WORD.findall(sentence[min(a, b) : max(a, b)]))  # noqa: E731
        near = any(words_between(s, a) <= NEAR_WORDS or words_between(e, a) <= NEAR_WORDS for s, e in spans for a in anchors)
        return 1.0 if near else 0.5

    def question_names(self) -> set[str]:
        """Proper names the question uses ("Quad", "Tesla"): the evidence must be about them."""
        names = set()
        for m in list(_WORD.finditer(self.question))[1:]:
            word = _bare(m.group(0))
            # Acronyms get spelt out, compounds ("India-Pakistan") and nationalities get rephrased.
            if word[:1].isupper() and not word.isupper() and "-" not in word and not _DEMONYM.search(word) and self.is_name(word):
                names.add(word.lower())
        return names

    def holds_answer(self, sentence: str) -> bool:
        return self.support(sentence) > 0

    # -- what an answer looks like, as character spans -------------------------------------
    def _answer_spans(self, sentence: str) -> list[tuple[int, int]]:
        kind = self.expect.kind
        if kind is AnswerType.MONEY:
            spans = [m.span() for m in _MONEY.finditer(sentence)]
            return [s for s in spans if not self.expect.exact or re.search(r"\d", sentence[s[0] : s[1]])]
        if kind is AnswerType.NUMBER:
            return self._counts(sentence)
        if kind is AnswerType.DATE:
            return self._dates(sentence)
        if kind is AnswerType.PERSON:
            return self._people(sentence)
        names = self._new_name_spans(sentence)
        if kind is AnswerType.NAME:
            names += [m.span() for m in re.finditer(r"\b[A-Z]{2,}(?:-[A-Z]+)*\b", sentence) if m.group(0).lower() not in self._question_words]
        return names

    def _is_new(self, text: str) -> bool:
        return _bare(text).lower() not in self._question_words

    def _counts(self, sentence: str) -> list[tuple[int, int]]:
        numbers = [m for m in _NUMBER.finditer(sentence) if self._is_new(m.group(0)) and not _YEAR.fullmatch(m.group(0).strip())]
        e = self.expect
        if e.unit:
            unit = _UNITS[e.unit]
            return [m.span() for m in numbers if re.match(rf"\s?-?(?:{unit})\b", sentence[m.end():], re.I)
                    or (e.unit == "percent" and m.group(0).endswith("%")) or re.search(rf"-(?:{unit})$", m.group(0), re.I)]
        if e.counted and re.search(rf"\b{re.escape(e.counted[:5])}", sentence, re.I):
            # The counted thing is named: the number must stand right before it ("26 tourists").
            return [m.span() for m in numbers if re.match(rf"[\s\w-]{{0,25}}?\b{re.escape(e.counted[:5])}", sentence[m.end():], re.I)]
        return [m.span() for m in numbers]

    def _dates(self, sentence: str) -> list[tuple[int, int]]:
        e = self.expect
        specific = [m for m in _SPECIFIC_DATE.finditer(sentence) if self._is_new(m.group(0))]
        if e.weekday:
            return [m.span() for m in specific if re.fullmatch(_WEEKDAYS, m.group(0))] + [
                m.span() for m in _DAY_OF_MONTH.finditer(sentence)]
        if e.year:
            return [m.span() for m in specific if _YEAR.search(m.group(0))]
        if e.exact:
            return [m.span() for m in specific if re.search(r"\d", m.group(0)) and re.search(_MONTHS, m.group(0))]
        return [m.span() for m in specific] + [m.span() for m in _VAGUE_DATE.finditer(sentence)]

    def _name_runs(self, sentence: str) -> list[tuple[str, list[re.Match]]]:
        """Runs of capitalised words, each with the word before it: ("Minister", [Mark, Carney])."""
        words = list(_WORD.finditer(sentence))
        runs: list[tuple[str, list[re.Match]]] = []
        i = 1  # the first word of a sentence is capitalised anyway
        while i < len(words):
            quoted = sentence[max(0, words[i].start() - 1) : words[i].start()] in "‘'\"“" and words[i].start() > 0
            if words[i].group(0)[0].isupper() and not quoted:
                j = i
                while j < len(words) and words[j].group(0)[0].isupper() and sentence[words[j - 1].end() : words[j].start()].strip() in ("", "-") or (j == i):
                    j += 1
                runs.append((words[i - 1].group(0), words[i:j]))
                i = j
            else:
                i += 1
        return runs

    def _fresh_runs(self, sentence: str):
        """Name runs that are not a name the question already uses ("Narendra Modi" when asked about Modi)."""
        for before, run in self._name_runs(sentence):
            names = [m for m in run if self.is_name(_bare(m.group(0))) and not _ROLE.fullmatch(_bare(m.group(0)))]
            if any(not self._is_new(m.group(0)) for m in names):
                continue
            yield before, run, names

    def _new_name_spans(self, sentence: str) -> list[tuple[int, int]]:
        return [m.span() for _, _, names in self._fresh_runs(sentence) for m in names]

    def _people(self, sentence: str) -> list[tuple[int, int]]:
        """A person: a new name after a title ("Minister Rajnath Singh", "Gen Nakatani"), after
        initials ("H.D. Kumaraswamy"), or a first and last name ("Mark Carney")."""
        spans = []
        for before, run, names in self._fresh_runs(sentence):
            if not names:
                continue
            texts = [_bare(m.group(0)) for m in run]
            titled = any(_ROLE.fullmatch(t) for t in texts[:-1]) or bool(_ROLE.fullmatch(before.strip(".")))
            initials = bool(_INITIALS.fullmatch(before)) or any(_INITIALS.fullmatch(m.group(0)) for m in run)
            full_name = (
                len(names) >= 2
                and not any(m.group(0).endswith(("’s", "'s")) for m in names[:-1])
                and any(_uncommon_in_english(_bare(m.group(0))) for m in names)
            )
            if titled or initials or full_name:
                spans.append((run[0].start(), run[-1].end()))
        return spans


@lru_cache(maxsize=4096)
def _uncommon_in_english(word: str) -> bool:
    """True for words a general English vocabulary lacks ("Carney", "Nakatani"), false for ones
    it has as a whole word ("International", "Affairs"): cl100k_base, learned from a web-scale
    corpus, keeps frequent lower-case words as single tokens and splits rare names."""
    from rag.offline import cl100k

    return len(cl100k()(" " + word.lower())) > 1


def _bare(word: str) -> str:
    return word.strip("’'.,").removesuffix("’s").removesuffix("'s")
