"""Does a sentence hold what the question asks for, about what the question names?

Pure functions over text and entity spans (rag.text.entities); no store, no model.

Similarity cannot tell "the articles mention Chalone's revenue" from "the articles give Chalone's
revenue for 2004": unanswerable questions are on topic. Two checks can:
- the answer value: the sentence holds an entity of a type the question expects (rag.question)
  that the question does not already state;
- the constraints: every name, place, year and figure the question uses holds in the same story
  (and, as a graded feature, in the sentence itself), so a count about another country's army or
  a figure for another year does not answer.
"""

from __future__ import annotations

import calendar
import json
import re
from bisect import bisect_left
from functools import cached_property, lru_cache
from pathlib import Path

from rag.answer.question import NAME, PLACE, VALUE, YEAR, Constraint, Question, currency_words
from rag.text.entities import NUMERIC_LABELS, Entity
from rag.text.lexical import stem, terms
from rag.tunables import AnswerTunables

_ALIASES_FILE = Path(__file__).parent.parent / "data" / "place_aliases.json"
_WORD = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")
# An answer value within Config.answer.near_words words of a question word stands beside it (the
# value of "profits at Time Warner", not of another figure at the far end of a long sentence).
_ANSWER = AnswerTunables()
_MAX_ACRONYM = 6  # words; longer capitalised runs are headline lists, not names


class Text:
    """What a stretch of text says, for constraint checks: its words, its text, its acronyms.

    Read-only once made. Its words are split at once; the rest (acronyms, capitals, stems, the
    sorted words) on first use, since most checks end at the words (answer step p50 26.3 -> 25.6 ms
    on the BBC dev questions, scripts/measure_answer_stages.py)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower().replace("’", "'")
        words = set(_WORD.findall(self.lower))
        words |= {w[:-2] for w in words if w.endswith("'s")}
        words |= {part for w in words if "." in w for part in w.split(".")}  # "defencematters.in", "u.s."
        self.words = frozenset(words)

    @cached_property
    def acronyms(self) -> frozenset[str]:
        """Initials and run-together names of capitalised runs: "European Union" answers to "EU",
        "Time Warner" to "timewarner"."""
        runs = re.findall(r"(?:\b[A-Z][\w'’-]*(?:\s+(?:of|and|for|the|de)?\s*[A-Z][\w'’-]*)+)", self.text)
        acronyms: set[str] = set()
        for r in runs:
            caps = [w for w in r.split() if w[:1].isupper()]
            for i in range(len(caps)):  # every sub-run: "The European Union" gives "eu" as well as "teu"
                for j in range(i + 2, min(len(caps), i + _MAX_ACRONYM) + 1):
                    acronyms.add("".join(w[0] for w in caps[i:j]).lower())
                    acronyms.add("".join(caps[i:j]).lower())
        return frozenset(acronyms)

    @cached_property
    def caps(self) -> frozenset[str]:
        """Words written in capitals ("US", "UK", "G7", "U.S"), lower-cased: "us" the pronoun is not "US"."""
        return frozenset(w.lower() for w in re.findall(r"\b[A-Z][A-Z0-9.]*[A-Z0-9]\b", self.text))

    @cached_property
    def stems(self) -> frozenset[str]:
        """Stemmed words ("democrats" and "democrat" agree)."""
        return frozenset(stem(w) for w in self.words)

    @cached_property
    def ordered(self) -> tuple[str, ...]:
        """The words sorted, for prefix look-ups: a scan of a whole story's words per check was
        most of the answer step's time on long stories (bisect finds the first word with the prefix)."""
        return tuple(sorted(self.words))

    def has_prefix(self, prefix: str, length: int | None = None) -> bool:
        """Whether some word starts with `prefix` (and has `length` characters, when given)."""
        ordered = self.ordered
        i = bisect_left(ordered, prefix)
        while i < len(ordered) and ordered[i].startswith(prefix):
            if length is None or len(ordered[i]) == length:
                return True
            i += 1
        return False


def text_view(text: str) -> Text:
    return Text(text)


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


@lru_cache(maxsize=4096)
def sentence_view(text: str) -> Text:
    """text_view of a sentence, cached: the same sentences come back question after question (a
    Text is read-only; stories' views are kept per snapshot instead, they are much larger)."""
    return text_view(text)


def _words(c: Constraint) -> list[str]:
    """The constraint's words as text_view splits text ("T-Mobile's" → t, mobile), one-letter ones aside."""
    out = []
    for w in c.words:
        out += [x[:-2] if x.endswith("'s") else x for x in _WORD.findall(w.lower().replace("’", "'"))]
    return [w for w in out if len(w) > 1]


def _word_holds(word: str, text: Text, loose: bool, capitals: bool = False) -> bool:
    if " " in word:
        return word in text.lower
    if word.isdigit():  # "2" of "2,850": a figure's digits, never a capitalised name
        return word in text.words
    if capitals or len(word) <= 2:  # "US", "UK": in lower case they are other words
        return word in text.caps or word in text.acronyms
    if word in text.words or word in text.acronyms or stem(word) in text.stems:
        return True
    if loose and len(word) >= 5:
        # "Japanese" ↔ "Japan", "British" ↔ "Britain": the shared stem of a place and its people.
        return text.has_prefix(word[: max(4, len(word) - 3)])
    return False


def holds(c: Constraint, text: Text) -> bool:
    """The constraint is stated in `text`."""
    if c.kind == YEAR:
        return c.words[0] in text.words or text.has_prefix(c.words[0], length=5)
    if c.kind == VALUE:
        return all(re.search(rf"(?<![\d.,]){re.escape(d)}(?![\d]|[.,]\d)", text.lower) for d in c.words)
    words = _words(c)
    if not words:
        return True
    capitals = c.text.isupper()  # "US", "EU": only their capitals will do ("us" is a pronoun)
    phrase = " ".join(words)
    if len(words) >= 2 and c.label != "PERSON" and initials(words) in text.caps:
        return True  # written as its initials: "the Rugby Football Union" as "RFU" (not people: "TB")
    if capitals:
        if "".join(words) in text.caps or "".join(words) in text.acronyms:
            return True
    elif (re.search(rf"\b{re.escape(phrase)}\b", text.lower) or "".join(words) in text.acronyms
          or "".join(words) in text.words):
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


def constraint_share(constraints: tuple[Constraint, ...], text: Text) -> float:
    """Share of the constraints stated in `text` (1.0 when the question names nothing)."""
    if not constraints:
        return 1.0
    return sum(holds(c, text) for c in constraints) / len(constraints)


_GROUP = {"GPE": "place", "ORG": "org", "PERSON": "person"}  # (nationalities, religions and regions are named in passing: "Muslim-majority", "Tory")
_YEAR_IN = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def conflicts(q: Question, sentence: str, offset: int, entities: list[Entity], view: Text) -> bool:
    """The sentence is about another one of what the question names: it lacks the question's
    country (organisation, person, year) and names a different one ("54 caps for the USA" when
    asked about Wales, a 2003 figure when asked about 2004). A name of the type the question asks
    for is the candidate answer, not another one of what it names ("Laurent Beaudoin" for "who
    took over from Paul Tellier")."""
    for c in q.constraints:
        group = "year" if c.kind == YEAR else _GROUP.get(c.label)
        if group is None or holds(c, view):
            continue
        for e in entities:
            if e.label in q.expects and e.label in _GROUP:
                continue
            text = sentence[e.start - offset : e.end - offset]
            if group == "year":
                if e.label == "DATE" and any(y != c.words[0] for y in _YEAR_IN.findall(text)):
                    return True
            elif _GROUP.get(e.label) == group and not set(_WORD.findall(text.lower())) <= q.words:
                return True
    return False


def answer_values(q: Question, sentence: str, offset: int, entities: list[Entity]) -> list[Entity]:
    """Entities of an expected type in the sentence that the question does not already state."""
    if not q.expects:
        return []
    asked = _question_view(q.text)
    out = []
    for e in entities:
        if e.label in ("CARDINAL", "QUANTITY") and "MONEY" in q.expects and _currency_follows(sentence, e.end - offset):
            e = Entity(e.start, e.end, "MONEY")  # "12 million euros": the tagger read a number
        if e.label != "PERCENT" and _PERCENT.search(sentence[e.start - offset : e.end - offset + 9]):
            e = Entity(e.start, e.end, "PERCENT")  # "Ninety per cent" comes out as MONEY or CARDINAL
        if e.label not in q.expects:
            continue
        text = sentence[e.start - offset : e.end - offset]
        words = [w for w in _WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()]
        # Not new: every word is the question's own ("India" when asked about the Indian city),
        # or it is a name the question gives, in initials or spelt out ("ONGC", "Queens Park Rangers" for "QPR").
        if not words or all(_word_holds(w, asked, loose=True) for w in words) or _initials_of_question(q, text, asked):
            continue
        if q.exact and e.label in ("DATE", "TIME"):
            # "On what date": a year alone ("in 1993") names no day either.
            named = _YEAR_IN.sub("", text) if q.focus in ("date", "day") and e.label == "DATE" else text
            if not _specific(named, e.start - offset):
                continue
        if e.label == "CARDINAL" and text.lower() == "one" and sentence[e.end - offset :].startswith(" of "):
            continue  # "One of the few ministers": a part of a group, not a count
        if e.label == "DATE" and not q.age and _AGE_IN.fullmatch(text):
            continue  # "the 29-year-old" is someone's age, not a time
        if q.exact and e.label in NUMERIC_LABELS and not any(ch.isdigit() for ch in text):
            continue  # "billions of dollars" is no exact total
        if q.age:
            span = age_span(sentence, e.start - offset, e.end - offset)
            if span is None:
                continue  # "30 others", "four-time", "on Friday" are no one's age
            e = Entity(span[0] + offset, span[1] + offset, e.label)
            if _age_of_someone_else(q, sentence, offset, e, entities):
                continue  # "the 19-year-old Harris" when asked about Walsh
        out.append(_widen(e, sentence, offset) if e.label in NUMERIC_LABELS else e)
    return out


def _initials_of_question(q: Question, value: str, asked: Text) -> bool:
    """The value is one of the question's names in other letters: its initials are a capitalised
    word of the question, or it is written in capitals that spell a question name's initials."""
    caps = [w for w in value.split() if w[:1].isupper()]
    if len(caps) >= 2 and initials(caps) in asked.caps:
        return True
    if value.isupper() and len(value) >= 2:
        letters = value.lower().replace(".", "")
        return any(len(c.words) >= 2 and initials(c.words) == letters for c in q.constraints)
    return False


def initials(words) -> str:
    """"rfu" for ("Rugby", "Football", "Union")."""
    return "".join(w[0] for w in words).lower()


def like_num(word: str) -> bool:
    """spaCy's English number-word test ("two", "million"; not "millions")."""
    from spacy.lang.en.lex_attrs import like_num as spacy_like_num

    return bool(spacy_like_num(word))


def states_figure(value: str) -> bool:
    """The value holds a number: a digit or a number word ("64", "two", "a million"), or the
    article that counts one of a unit ("a month", "an hour")."""
    words = value.split()
    if len(words) >= 2 and words[0].lower() in ("a", "an"):
        return True
    return any(ch.isdigit() for ch in value) or any(like_num(w.strip(".,")) for w in words)


def states_year(value: str) -> bool:
    """The value names a year ("2006", "September 2003")."""
    return bool(_YEAR_IN.search(value))


def names_calendar_date(value: str) -> bool:
    """The value names a month with a number, a day's or a year's ("16 January 1996", "Oct 18"),
    not a weekday alone or a span of time ("Friday", "45 years ago"). English month names, from
    the standard library's calendar."""
    return any(ch.isdigit() for ch in value) and any(w.strip(".,").lower() in _MONTHS for w in value.split())


_MONTH_NUMBER = {m.lower(): i for names in (calendar.month_name, calendar.month_abbr) for i, m in enumerate(names) if m}
_MONTHS = frozenset(_MONTH_NUMBER)
_SEASON = re.compile(r"\b((?:1[89]|20)\d\d)[-/–](\d\d)\b(?![-/–.]\d)")  # "2003-04", not "2004-05-12"


def stated_times(dates: list[str]) -> frozenset[str]:
    """The years and calendar months that date spans name, as "2004" and "m12" ("December 2004";
    "the 2003-04 season" names 2003 and 2004). Months count only written as names, capitalised,
    as English writes them ("may" the verb is no month)."""
    out: set[str] = set()
    for text in dates:
        out.update(_YEAR_IN.findall(text))
        # "the 2003-04 season" spans both years (a following year's two digits, so not "2004-11")
        out.update(a[:2] + b for a, b in _SEASON.findall(text) if int(b) == (int(a) + 1) % 100)
        capitalised = (w.strip(".,").lower() for w in text.split() if w[:1].isupper())
        out.update(f"m{_MONTH_NUMBER[w]}" for w in capitalised if w in _MONTH_NUMBER)
    return frozenset(out)


_ORDINAL_WORDS = {w: n for n, w in enumerate(["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                                                "ninth", "tenth", "eleventh", "twelfth"], start=1)}


def _ordinals(text: str) -> list[int]:
    """[3] for "third", "3rd", "the third-largest"; [2838] for "2,838th"; [] when the text states no ordinal."""
    out = []
    for m in _ORDINAL_TOKEN.finditer(text.lower()):
        if m.group(1):
            out.append(int(m.group(1).replace(",", "")))
        elif m.group(0) in _ORDINAL_WORDS:
            out.append(_ORDINAL_WORDS[m.group(0)])
    return out


# A written ordinal with its thousands separators ("2,838th"), or a word.
_ORDINAL_TOKEN = re.compile(r"(?<![\d,])(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)\b|[a-z]+")


def ordinals_in(text: str) -> frozenset[str]:
    """Every ordinal the text writes, as "o3" ("third", "3rd"). Read from the words, not the
    tagger's ORDINAL spans: the index keeps no ORDINAL spans (rag.text.entities.KEPT_LABELS)."""
    return frozenset(f"o{n}" for n in _ordinals(text))


def time_conflict(asked: frozenset[str], stated: frozenset[str], mentioned: frozenset[str] | None = None) -> bool:
    """The sentence puts what it says in another year, month or place in a series than the
    question asks about (`stated`: its date and ordinal spans), and never names the one asked
    (`mentioned`: anywhere in it; the spans when not given): a 2003 figure does not answer for
    2004, January's count not for December's, the fourth series' audience not for the third's.
    (Each kind is checked apart: "in December" does not conflict with "2004".)"""
    mentioned = stated if mentioned is None else mentioned | stated
    for kind in (str.isdigit, lambda t: t.startswith("m"), lambda t: t.startswith("o")):
        want, have = {t for t in asked if kind(t)}, {t for t in stated if kind(t)}
        if want and have and not want & {t for t in mentioned if kind(t)}:
            return True
    return False


def vague(value: str, at_start: bool = False) -> bool:
    """A value that states no figure or name: "millions of euros", "the past year", "annual" (no
    digit, no number word, no capitalised word but a sentence's first)."""
    if states_figure(value):
        return False
    words = value.split()
    return not any(w[:1].isupper() for w in (words[1:] if at_start else words))


def conversion(sentence: str, offset: int, value: Entity, values: list[Entity]) -> bool:
    """An amount in brackets right after another one is its conversion ("$14.5m (£7.74m)"): the
    story's own figure is the one before."""
    if value.label != "MONEY" or not sentence[: value.start - offset].rstrip().endswith("("):
        return False
    return any(o.label == "MONEY" and o.end <= value.start and not sentence[o.end - offset : value.start - offset].strip(" (")
               for o in values)


# How English news writes an age: "aged 28", "at the age of 28", "turned 28", "28-year-old",
# "28 years old", "28 years of age", or the number set off after a name ("Walsh, 34, said",
# "Ann Lee (37)").
_AGE_IN = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\b\d{1,3} years of age\b", re.I)
_AGE_WORD_BEFORE = re.compile(r"\b(?:aged|age of|age|turns|turned|turning)\s+$", re.I)
_AGE_UNIT_AFTER = re.compile(r"^(?:[- ]years?[- ]old\b| years of age\b)", re.I)
_NAME_COMMA_BEFORE, _COMMA_AFTER = re.compile(r"[A-Z][\w'’.-]*\s*,\s*$"), re.compile(r"^\s*,")
_NAME_PAREN_BEFORE, _PAREN_AFTER = re.compile(r"[A-Z][\w'’.-]*\s*\(\s*$"), re.compile(r"^\s*\)")
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?!\d|[.,]\d)")  # a whole number of 1-3 digits, not part of "80,000"


def age_span(sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the value at sentence[start:end] states someone's age ("28-year-old", or the 28 of
    "aged 28" and of "37 last year" after "aged"), or None when it is no age."""
    found = _AGE_IN.search(sentence, start, end)
    if found:
        return found.span()
    number = _NUMBER.search(sentence, start, end)
    if number is None:
        return None
    a, b = number.span()
    before, after = sentence[max(0, a - 24) : a], sentence[b : b + 16]
    if (_AGE_WORD_BEFORE.search(before) or _AGE_UNIT_AFTER.match(after)
            or (_NAME_COMMA_BEFORE.search(before) and _COMMA_AFTER.match(after))
            or (_NAME_PAREN_BEFORE.search(before) and _PAREN_AFTER.match(after))):
        return a, b
    return None


def _age_of_someone_else(q: Question, sentence: str, offset: int, age: Entity, entities: list[Entity]) -> bool:
    """The age is attached to a person the question does not name: "19-year-old Harris",
    "Harris, 19,", "Harris (19)" (a name right before or after it, nothing but a comma, a
    parenthesis or a space between). Only a question that names someone can tell."""
    asked = {w for c in q.constraints if c.kind == NAME and c.label in ("PERSON", "") for w in c.words}
    if not asked:
        return False
    for e in entities:
        if e.label != "PERSON":
            continue
        if e.end <= age.start:
            gap = sentence[e.end - offset : age.start - offset]
        elif age.end <= e.start:
            gap = sentence[age.end - offset : e.start - offset]
        else:
            continue  # (the age inside a name's span)
        if len(gap) > 3 or gap.strip(" ,("):
            continue
        name = [w for w in _WORD.findall(sentence[e.start - offset : e.end - offset].lower()) if len(w) > 1]
        if name and not any(w in asked for w in name):
            return True
    return False


_PERCENT = re.compile(r"^[\w\s.,-]*?\b(?:per ?cent|percent)\b|%$", re.I)
_LEFT = re.compile(r"(?:US\$|[A-Z]{0,2}[$£€¥₹])\s?$")
_RIGHT = re.compile(r"^(?:m|bn|k|tn|\s?(?:million|billion|trillion)|%)\b|^%")
_CURRENCY_AFTER = re.compile(r"^\s+(?:million\s+|billion\s+)?([a-z]+)", re.I)


def _widen(e: Entity, sentence: str, offset: int) -> Entity:
    """The tagger cuts amounts short ("$14.5m" → "14.5", "US$40,000" → "40,000"): take the
    currency sign and the magnitude back."""
    start, end = e.start - offset, e.end - offset
    left = _LEFT.search(sentence[max(0, start - 4) : start])
    right = _RIGHT.match(sentence[end : end + 10])
    if left:
        start -= len(left.group(0))
    if right:
        end += len(right.group(0))
    unit = _CURRENCY_AFTER.match(sentence[end : end + 24]) if e.label == "MONEY" else None
    if unit and unit.group(1).lower() in currency_words():
        end += len(unit.group(0))  # "12 million euros"
    return Entity(start + offset, end + offset, e.label)


def _currency_follows(sentence: str, end: int) -> bool:
    after = _WORD.findall(sentence[end : end + 24].lower())[:2]
    return any(w in currency_words() for w in after)


@lru_cache(maxsize=256)
def _question_view(question: str) -> Text:
    return text_view(question)


def _specific(date: str, at: int) -> bool:
    """A date that names a day, month or year ("22 April", "Monday", "2004"), not a vague one
    ("earlier this month", "recently"): it holds a digit, or a capitalised word (English writes
    months and weekdays so) other than a sentence's first."""
    words = date.split()
    return any(ch.isdigit() for ch in date) or any(w[:1].isupper() for w in (words[1:] if at == 0 else words))


def share_near(sentence: str, offset: int, value: Entity, question_terms: set[str], window: int) -> float:
    """The share of the question's terms among the `window` words either side of the value (its
    own words not counted): 1.0 when all of them stand beside it."""
    if not question_terms:
        return 0.0
    tokens = [(m.start() + offset, m.end() + offset, m.group(0)) for m in _WORD.finditer(sentence.lower())]
    inside = [k for k, (start, end, _) in enumerate(tokens) if start >= value.start and end <= value.end]
    if not inside:
        return 0.0
    lo, hi = inside[0], inside[-1]
    beside = {t for _, _, w in tokens[max(0, lo - window) : lo] + tokens[hi + 1 : hi + 1 + window] for t in terms(w)}
    return len(beside & question_terms) / len(question_terms)


def near_question(q: Question, sentence: str, offset: int, values: list[Entity], question_terms: set[str],
                  tunables: AnswerTunables = _ANSWER) -> list[Entity]:
    """The values standing within `tunables.near_words` words of a word the question uses, nearest first."""
    tokens = [(m.start() + offset, m.group(0)) for m in _WORD.finditer(sentence.lower())]
    anchors = [i for i, (_, w) in enumerate(tokens) if set(terms(w)) & question_terms]
    if not anchors:
        return []
    positions = [p for p, _ in tokens]
    near = []
    for v in values:
        i = bisect_left(positions, v.start)
        j = bisect_left(positions, v.end)
        distance = min(min(abs(a - i), abs(a - j)) for a in anchors)
        if distance <= tunables.near_words:
            near.append((distance, v))
    return [v for _, v in sorted(near, key=lambda dv: dv[0])]  # nearest first: the short answer
