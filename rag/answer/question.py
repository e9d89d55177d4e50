"""What a question asks for and what it names, read from spaCy's parse of it.

- The expected answer: the entity types that can answer it. "who" asks for a person or an
  organisation, "how many" for a count, "which company" for an organisation: the wh-word and the
  noun it governs, looked up in `rag/data/answer_types.json` (general vocabulary); an unlisted
  agent noun ("collector") asks for a person or a body; units come from the tagger itself.
- The constraints: the names, places, years and figures the question itself uses. Evidence about
  another country, company or year does not answer it (see rag/evidence.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.answer.events import event_verbs
from rag.text.entities import NLP_LOCK, NUMERIC_LABELS, full_pipeline

_TYPES_FILE = Path(__file__).parent.parent / "data" / "answer_types.json"
PERSON_LIKE = frozenset({"PERSON", "ORG"})  # "who": a person, or a body (a band, a firm, a team)
PLACE_LIKE = frozenset({"GPE", "LOC", "FAC", "ORG"})
TIME_LIKE = frozenset({"DATE", "TIME"})
NUMERIC = NUMERIC_LABELS
MEASURE = NUMERIC | TIME_LIKE
# Types the small English model tags reliably (people, countries and cities, dates, figures); its
# organisations, products, events and titles are often missed or mislabelled.
RELIABLE = MEASURE | {"PERSON", "GPE", "NORP"}
# Constraint kinds. A name must be in the story; a place may be named by an alias; a year or a
# figure must be stated as such.
NAME, PLACE, YEAR, VALUE = "name", "place", "year", "value"
PLACE_LABELS = frozenset({"GPE", "NORP", "LOC"})  # where a thing is, or whose it is: a country, a city, a nationality
NAME_LABELS = frozenset({"PERSON", "ORG", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})  # what has a proper name
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)s?\b")
# Nouns that only say "a name of": "what is the name of the company" asks about the company.
_GENERIC_HEADS = {"name", "title", "identity", "kind", "type", "sort"}
_WH = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}
_TIME_ADJECTIVES = {"long", "old", "soon", "often", "late", "early", "recently", "young"}
_EXACT = {"exact", "exactly", "precise", "precisely", "specific", "calendar"}  # adverbs that ask for precision


@dataclass(frozen=True)
class Constraint:
    text: str  # as the question writes it
    kind: str  # NAME, PLACE, YEAR or VALUE
    words: tuple[str, ...]  # lower-case words to look for
    label: str = ""  # the entity label spaCy gave it ("PERSON", "ORG"; "" for a bare proper noun)

    @property
    def hard(self) -> bool:
        """Must hold in the story for it to answer: a year, a figure, a person, an organisation or
        a country/city. Nationalities, events, titles and bare proper nouns are paraphrased too
        often ("the Conservatives" / "the Tories", "New Year's Eve" / "31 December") to veto a
        story; they count as evidence instead."""
        return self.kind in (YEAR, VALUE) or self.label in ("PERSON", "ORG", "GPE")


@dataclass(frozen=True)
class Question:
    text: str
    wh: str  # the question word, lower case ("" when there is none)
    focus: str  # the noun the wh-word asks about ("company" in "which company"), lemma
    expects: frozenset[str]  # entity labels that can answer; empty: any sentence may
    constraints: tuple[Constraint, ...]
    words: frozenset[str]  # lower-case words of the question: a value it already states is not an answer
    exact: bool = False  # asks for a precise value ("which date", "the exact total"): "earlier this month" or "billions" does not do
    age: bool = False  # "how old": only a number written as someone's age answers ("aged 28", "28-year-old", "Walsh, 34,")
    verbs: tuple[str, ...] = ()  # the event it asks about, as verb lemmas ("open"; rag.answer.events)
    dates: tuple[str, ...] = ()  # the date spans it names ("in December 2004"): evidence dated otherwise does not answer
    ordinals: tuple[str, ...] = ()  # the ordinals it names ("the third series"): evidence about the fourth does not answer

    @property
    def primary(self) -> str:
        """The most likely type of the answer: a person for "who", a country or city for "where",
        a date for "when"; "" when no type stands out."""
        return {"who": "PERSON", "whom": "PERSON", "whose": "PERSON", "where": "GPE", "when": "DATE"}.get(self.wh, "")

    @property
    def numeric(self) -> bool:
        return bool(self.expects) and self.expects <= MEASURE

    @property
    def strict(self) -> bool:
        """Only a sentence holding a value of the expected type can answer: the question asks for a
        person, a time, a place or a measure. For "which <kind of thing>" the type is evidence, not
        a rule: the model's tags miss many named things ("the second island chain")."""
        if not self.expects:
            return False
        return self.wh in ("who", "whom", "whose", "when", "where", "how") or self.expects <= RELIABLE


@lru_cache(maxsize=1)
def _types_data() -> dict:
    return json.loads(_TYPES_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def money_verbs() -> frozenset[str]:
    """Verbs whose object is an amount of money ("pay", "cost", "charge")."""
    return frozenset(_types_data()["_verbs"]["MONEY"])


@lru_cache(maxsize=1)
def currency_words() -> frozenset[str]:
    return frozenset(_types_data()["_currencies"]["words"])


@lru_cache(maxsize=1024)
def measure_label(noun: str) -> str:
    """The entity type of "12 <noun>" as the tagger reads it: QUANTITY for "metres", DATE for
    "years", MONEY for "dollars", CARDINAL for a counted thing ("jobs", "votes"). The model's own
    knowledge of units, so no list of units is needed."""
    with NLP_LOCK:
        doc = full_pipeline()(f"They said 12 {noun} were involved.")
    for e in doc.ents:
        if e.text.startswith("12") and e.text.endswith(noun):
            return e.label_
    return "CARDINAL"


@lru_cache(maxsize=1)
def _type_lexicon() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for label, nouns in _types_data().items():
        if label.startswith("_"):
            continue  # notes and verbs
        for noun in nouns:
            # A plain figure ("level", "number", "total") may be a count, a share, an amount or a measure.
            out.setdefault(noun, set()).update(NUMERIC if label == "CARDINAL" else {label})
    return {k: frozenset(v) for k, v in out.items()}


# English agent nouns ("collector", "investor", "owner", "scientist") name a person or a body.
_AGENT_NOUN = re.compile(r"\w{3,}(?:er|or|ist|ian|ant|ent)$")


def types_for_noun(noun: str) -> frozenset[str]:
    """Entity labels a noun names: the lexicon's, else an agent noun's, else none."""
    noun = noun.lower()
    found = _type_lexicon().get(noun) or (_type_lexicon().get(noun[:-1]) if noun.endswith("s") else None)
    if found:
        return found
    if _AGENT_NOUN.fullmatch(noun.removesuffix("s")):
        return frozenset({"PERSON", "ORG"})
    return frozenset()


@lru_cache(maxsize=2048)
def analyse(text: str) -> Question:
    """Parse `text` (a question) into what it expects and what it names.
    """
    with NLP_LOCK:  # spaCy does not promise that one pipeline can parse in two threads at once
        doc = full_pipeline()(text)
    words = frozenset(t.lower_ for t in doc if not t.is_punct)
    wh_tok = next((t for t in doc if t.lower_ in _WH and t.tag_ in {"WDT", "WP", "WP$", "WRB"}), None)
    if wh_tok is None:
        wh_tok = next((t for t in doc if t.lower_ in _WH), None)
    wh = wh_tok.lower_ if wh_tok is not None else ""
    focus = _focus_noun(doc, wh_tok) if wh_tok is not None else None
    expects = _expected(wh, wh_tok, focus)
    exact = bool(expects) and (any(t.lower_ in _EXACT for t in doc) or (
        bool(expects & TIME_LIKE) and focus is not None and focus.lemma_.lower() in ("date", "day")))
    age = wh == "how" and wh_tok is not None and wh_tok.i + 1 < len(doc) and doc[wh_tok.i + 1].lower_ == "old"
    dates = tuple(e.text for e in doc.ents if e.label_ == "DATE" and (focus is None or focus not in e))
    # An ordinal that picks one of a series ("the third series", "the second-largest stock"), not
    # one that says when ("when he first took power").
    ordinals = tuple(e.text for e in doc.ents if e.label_ == "ORDINAL" and e.root.head.pos_ in ("NOUN", "PROPN", "ADJ")
                     and e.root.dep_ in ("amod", "compound", "nummod", "advmod") and e.root.head.i > e.root.i)
    return Question(text, wh, focus.lemma_.lower() if focus is not None else "", expects,
                    tuple(_constraints(doc, focus)), words, exact, age, event_verbs(doc), dates, ordinals)


def _focus_noun(doc, wh):
    """The noun the wh-word asks about: "which company", "what percentage of", "how many
    jobs", "what was the price": its head noun, or the subject/attribute of "be"."""
    if wh.lower_ in ("which", "what", "whose"):
        if wh.dep_ in ("det", "attr") and wh.head.pos_ in ("NOUN", "PROPN") and wh.head.i > wh.i:
            return _specific(_head_noun(wh.head))
        # "which exact dates", "what annual budget": the first noun after a few modifiers.
        for t in doc[wh.i + 1 : wh.i + 4]:
            if t.pos_ == "NOUN":
                return _specific(_head_noun(t))
            if t.pos_ not in ("ADJ", "ADV", "NOUN", "PROPN"):
                break
        head = wh.head
        if head.lemma_ == "be" or head.pos_ == "AUX":
            for child in head.children:
                if child.i != wh.i and child.dep_ in ("nsubj", "attr", "nsubjpass") and child.pos_ in ("NOUN", "PROPN"):
                    return _specific(child)
    if wh.lower_ == "how" and wh.i + 1 < len(doc):
        nxt = doc[wh.i + 1]
        if nxt.lower_ in ("many", "much"):
            noun = nxt.head if nxt.head.pos_ == "NOUN" and nxt.head.i > nxt.i else None
            if noun is None and nxt.i + 1 < len(doc) and doc[nxt.i + 1].pos_ == "NOUN":
                noun = doc[nxt.i + 1]
            return noun
    return None


def _head_noun(noun):
    """"calendar" in "which calendar date" modifies "date": the head is what is asked about."""
    while noun.dep_ == "compound" and noun.head.pos_ in ("NOUN", "PROPN") and noun.head.i > noun.i:
        noun = noun.head
    return noun


def _specific(noun):
    """"the name of the company" → company."""
    if noun.lemma_.lower() in _GENERIC_HEADS:
        for prep in (c for c in noun.children if c.dep_ == "prep"):
            for obj in (c for c in prep.children if c.dep_ == "pobj"):
                return obj
    return noun


def _expected(wh: str, wh_tok, focus) -> frozenset[str]:
    if wh in ("who", "whom"):
        return PERSON_LIKE
    if wh == "whose":
        return PERSON_LIKE
    if wh == "when":
        return TIME_LIKE
    if wh == "where":
        return PLACE_LIKE
    if wh == "how":
        nxt = wh_tok.nbor(1) if wh_tok.i + 1 < len(wh_tok.doc) else None
        if nxt is None:
            return frozenset()
        noun_types = types_for_noun(focus.lemma_) if focus is not None else frozenset()
        measured = measure_label(focus.lower_) if focus is not None else "CARDINAL"
        if nxt.lower_ == "many":
            # A count ("how many jobs": 2,850), or a measure in the unit named ("how many metres").
            return frozenset({measured}) if measured != "CARDINAL" else frozenset({"CARDINAL"}) | (noun_types & NUMERIC)
        if nxt.lower_ == "much":
            # An amount: money, a share or a measure ("how much money", "how much did sales rise").
            if measured != "CARDINAL":
                return frozenset({measured})
            return (noun_types & NUMERIC) or frozenset({"MONEY", "PERCENT", "QUANTITY"})
        if nxt.pos_ in ("ADJ", "ADV") and nxt.lower_ not in ("come",):
            # how far / big / large: a measure; how long / old / soon / often: a measure or a time.
            return MEASURE if nxt.lower_ in _TIME_ADJECTIVES else NUMERIC
        return frozenset()  # how (manner): any sentence
    if wh in ("which", "what") and focus is not None:
        types = types_for_noun(focus.lemma_) or types_for_noun(focus.lower_)
        if len(types & NUMERIC) > 1:
            # "the dollar total", "the percentage rise": a modifier that names a unit picks the figure.
            for mod in (c for c in focus.children if c.dep_ in ("compound", "nmod", "amod")):
                unit = measure_label(mod.lower_)
                if unit in types and unit != "CARDINAL":
                    return frozenset({unit})
                named = types_for_noun(mod.lemma_) & types
                if len(named) == 1:  # "the percentage rise"
                    return named
        return types
    if wh == "what" and wh_tok.head.lemma_.lower() in money_verbs() and wh_tok.dep_ in ("dobj", "attr", "npadvmod"):
        return frozenset({"MONEY"})  # "what will it cost", "what did they pay"
    return frozenset()


def _constraints(doc, focus) -> list[Constraint]:
    """Names, places, years and figures the question states (not the thing it asks about)."""
    out: list[Constraint] = []
    covered: set[int] = set()
    for ent in doc.ents:
        toks = [t for t in ent if not t.is_stop and not t.is_punct and t.lower_ not in ("'s", "’s")]
        if focus is not None and focus in ent:
            continue
        covered.update(t.i for t in ent)
        if ent.label_ == "DATE":
            out += [Constraint(m.group(1), YEAR, (m.group(1),)) for m in _YEAR.finditer(ent.text)]
        elif ent.label_ in ("MONEY", "PERCENT", "QUANTITY", "CARDINAL"):
            digits = tuple(re.findall(r"\d[\d.,]*\d|\d", ent.text))
            if digits:
                out.append(Constraint(ent.text, VALUE, digits))
        elif ent.label_ in PLACE_LABELS and toks:
            out.append(Constraint(ent.text, PLACE, tuple(t.lower_ for t in toks), ent.label_))
        elif ent.label_ in NAME_LABELS and toks:
            out.append(Constraint(ent.text, NAME, tuple(t.lower_ for t in toks), ent.label_))
    # Proper nouns the recogniser missed ("Xiluodu", "Metrovias"), the sentence's first word aside.
    for t in doc:
        if t.i in covered or t.pos_ != "PROPN" or t.i == 0 or t.is_stop or not t.text[:1].isupper():
            continue
        if t.head.i in covered and t.dep_ == "compound":
            continue  # a title or first name beside a recognised name ("Sir" Anthony Meyer)
        if focus is not None and t.i == focus.i:
            continue
        out.append(Constraint(t.text, NAME, (t.lower_,)))
    return out
