"""The embedded default answer: pick the sentences that answer the question, cite each one.

No language model: every word of the answer is a sentence from an article, so a citation always
points at text that really says it.

Each sentence of the retrieved stories gets features (meaning match, the question's words, the
answer value the question expects, the question's names in the sentence and in its story). Two
models fitted on the dev questions only (scripts/fit_answer_model.py; weights and where they came
from in rag/data/answer_model.json) read them: a ranker picks the best sentence among those that
pass the evidence checks, and a decision model reads that sentence and gives the probability that
the articles answer the question at all. Under the fitted threshold they don't.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from rag.answer.answering import ABSTAIN_TEXT, AnswerRequest
from rag.answer.citations import citation, with_markers
from rag.answer.events import governing_verb, same_event
from rag.answer.evidence import (
    Text,
    answer_values,
    conflicts,
    constraint_share,
    like_num,
    near_question,
    ordinals_in,
    place_aliases,
    sentence_view,
    stated_times,
    text_view,
    time_conflict,
)
from rag.answer.question import NAME, PLACE, Question, analyse
from rag.answer.short import is_vague, pick_short, short_answer
from rag.config import Config
from rag.retrieve.context import CorpusStats, Evidence, Story
from rag.schema import Answer, Citation, Passage, SentenceRow
from rag.text.entities import Entity, import_spacy
from rag.text.lexical import terms
from rag.tunables import AnswerTunables

MODEL_FILE = Path(__file__).parent.parent / "data" / "answer_model.json"
# The step's hand-set constants (min_words, voters, rare_terms, focus_window, ...) are
# Config.answer: rag/tunables.py, AnswerTunables.
_ANSWER = AnswerTunables()
# Words that only make a question a question; they locate nothing in the articles.
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "tell", "describ", "explain",
                   "say", "said", "articl", "accord"}
# Per sentence: how it matches the question (its meaning, its words in order), where it stands
# (retrieval rank, first sentence of its story), what it holds (a value of the expected type,
# beside the question's words or right before the noun asked about), and whether the question's
# names are in it and in its story.
FEATURES = ("dense", "lexical", "order", "rank", "typed", "typed_near", "open", "cons_sentence", "cons_story",
            "story_lexical", "title_lexical", "lead", "focus_in_sentence", "value_by_focus", "prev_lexical", "conflict",
            "cons_context", "rare_terms", "typed_primary", "count_match")
_COUNT_MATCH = FEATURES.index("count_match")
# Per question, from its best sentence and the runner-up: does the best one answer?
DECISION_FEATURES = ("score", "margin", "dense", "lexical", "untyped", "typed_near", "value_by_focus", "open", "strict",
                     "cons_sentence", "story_lexical", "soft_in_story", "eligible_share", "conflict",
                     "cons_context", "count_match", "vague", "same_event")


@dataclass(frozen=True)
class AnswerModel:
    """Fitted weights and thresholds of the answer step (see MODEL_FILE and scripts/fit_answer_model.py)."""

    rank_weights: tuple[float, ...]  # sentence score = rank_weights · FEATURES (pairwise logistic ranker)
    decide_weights: tuple[float, ...]  # P(the best sentence answers) = σ(decide_bias + decide_weights · DECISION_FEATURES)
    decide_bias: float
    abstain_below: float  # under this probability the articles don't answer
    join_margin: float  # another sentence joins when its score is within this of the best one's
    same_fact_cosine: float  # a sentence this close to a chosen one restates it
    provenance: dict = field(default_factory=dict, compare=False)

    def score(self, x: np.ndarray) -> float:
        return float(np.dot(self.rank_weights, x))

    def probability(self, z: np.ndarray) -> float:
        return 1.0 / (1.0 + math.exp(-(self.decide_bias + float(np.dot(self.decide_weights, z)))))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> AnswerModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES or tuple(data["decision_features"]) != DECISION_FEATURES:
        raise ValueError(f"{path} was fitted on other features than the code computes; run scripts/fit_answer_model.py")
    return AnswerModel(tuple(data["rank_weights"]), tuple(data["decide_weights"]), data["decide_bias"],
                       data["abstain_below"], data["join_margin"], data["same_fact_cosine"], data.get("provenance", {}))


@dataclass
class Candidate:
    row: SentenceRow
    passage: Passage
    vector: np.ndarray
    features: np.ndarray
    terms: set[str]
    values: list[Entity]  # answer values of the expected type in the sentence, nearest the question's words first
    eligible: bool  # passes the evidence checks: a value of the type asked for (when strict), in a story about what the question names
    soft_in_story: float = 1.0  # share of all the question's names (soft ones too) in the story
    score: float = 0.0
    # Eligible, but dated to another year or month (or about another one of a series) than the
    # question asks about: the decision model reads it as it was fitted to, but it is never cited.
    dated_otherwise: bool = False

    @property
    def usable(self) -> bool:
        """Can be cited in the answer."""
        return self.eligible and not self.dated_otherwise

    def feature(self, name: str) -> float:
        return float(self.features[FEATURES.index(name)])


def decision_features(question: Question, ranked: list[Candidate], same_event: bool) -> np.ndarray | None:
    """What the decision model reads: the best eligible sentence, and how far ahead of the next it
    is; `same_event`: whether that sentence's value hangs from one of the question's verbs
    (`verb_check`, a parse, which the caller makes or not)."""
    eligible = [c for c in ranked if c.eligible]
    if not eligible:
        return None
    best = eligible[0]
    runner = eligible[1].score if len(eligible) > 1 else best.score - 1.0
    f = best.feature
    untyped = float(bool(question.expects) and not best.values)  # asks for a kind of thing the sentence lacks
    # Only vague values of the kind asked for ("millions of euros", "the past year"): no figure, no name.
    only_vague = float(bool(best.values) and all(is_vague(best.row, v) for v in best.values))
    return np.array([best.score, best.score - runner, f("dense"), f("lexical"), untyped, f("typed_near"),
                     f("value_by_focus"), f("open"), float(question.strict), f("cons_sentence"), f("story_lexical"),
                     best.soft_in_story, len(eligible) / max(1, len(ranked)), f("conflict"),
                     f("cons_context"), f("count_match"), only_vague, float(same_event)], dtype=np.float32)


def verb_check(question: Question, c: Candidate) -> bool:
    """Does the sentence's answer value (its first, or the sentence's root without one) hang from
    one of the question's verbs? One spaCy parse of the sentence (cached)."""
    return same_event(question.verbs, governing_verb(c.row.text, c.values[0] if c.values else None, c.row.start))


def join(eligible: list[Candidate], max_sentences: int, margin: float, same_fact_cosine: float) -> list[Candidate]:
    """The best eligible sentence, and those scoring within `margin` of it that do not restate a
    chosen one (the same fact from another article is stated once, from the best source)."""
    chosen = [eligible[0]]
    for c in eligible[1:]:
        if len(chosen) >= max_sentences or c.score < eligible[0].score - margin:
            break
        if not any(float(c.vector @ o.vector) >= same_fact_cosine for o in chosen):
            chosen.append(c)
    return chosen


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Eligible sentences first, best score first."""
    return sorted(candidates, key=lambda c: (not c.eligible, -c.score))


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, config: Config, model: AnswerModel | None = None,
                 embed: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self.config = config
        self._model = model
        # The embedding model's query encoder for a list of texts (Embedder.embed_queries: cached
        # per text): compares the noun a question counts with the noun a number in the sentence
        # counts ("jets" / "tourists").
        self.embed = embed

    @property
    def model(self) -> AnswerModel:
        if self._model is None:
            self._model = load_model()
        return self._model

    def warm_up(self) -> None:
        terms("warm up")  # loads the stemmer and stopword list
        analyse("Who said what in 2024?")  # loads spaCy's parser
        _ = self.model

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        answer = self.answer(request)
        yield answer.text
        yield answer

    def analyse(self, request: AnswerRequest) -> Question:
        """What the question expects (from the question as typed) and names (from the standalone query)."""
        asked = analyse(request.question)
        if request.query == request.question:
            return asked
        full = analyse(request.query)
        return Question(asked.text, asked.wh or full.wh, asked.focus or full.focus, asked.expects or full.expects,
                        full.constraints, asked.words | full.words, asked.exact or full.exact, asked.age or full.age,
                        asked.verbs or full.verbs, full.dates, full.ordinals)

    def answer(self, request: AnswerRequest) -> Answer:
        return self.decide(request)[0]

    def decide(self, request: AnswerRequest) -> tuple[Answer, Question, list[Candidate]]:
        """The answer, with what the question asks for and the ranked candidate sentences (the
        generative modes hold a model's sentences to the same evidence)."""
        t0 = time.perf_counter()
        evidence = request.evidence
        answer = Answer(text="", citations=[], abstained=True, question=request.question,
                        query=request.query, passages=request.passages, mode_used=self.name)
        question = self.analyse(request)
        missing = unknown_names(question, evidence.stats)
        if missing:
            answer.text = ABSTAIN_TEXT
            answer.notes.append(f"The articles never mention {', '.join(missing)}.")
            return answer, question, []
        candidates = self.candidates(request, question)
        model = self.model
        eligible = [c for c in candidates if c.eligible]
        usable = [c for c in eligible if c.usable]
        confidence = self.confidence(question, candidates)
        answer.confidence = round(confidence, 4)
        if not usable or confidence < model.abstain_below:
            answer.text = ABSTAIN_TEXT
            if candidates and not any(c.values for c in candidates) and question.strict:
                answer.notes.append(f"No passage gives the {_describe(question)} the question asks for.")
            elif candidates and not eligible:
                answer.notes.append("No passage holds what the question asks for about what it names.")
            elif not usable:
                answer.notes.append("The passages found give it for another year, month or one of a series than the "
                                    "question asks about.")
            else:
                answer.notes.append("The evidence found is too weak to answer from.")
            answer.timings["answer"] = time.perf_counter() - t0
            return answer, question, candidates

        chosen = join(usable, self.config.max_answer_sentences, model.join_margin, model.same_fact_cosine)
        answer.text, answer.citations = compose(chosen, evidence)
        picked = pick_short(question, set(question_terms(request.query)), chosen, usable[: self.config.answer.voters],
                            self.config.answer)
        answer.short = short_answer(picked, answer.citations, evidence) if picked else None
        answer.abstained = False
        answer.timings["answer"] = time.perf_counter() - t0
        return answer, question, candidates

    def answering(self, question: Question, candidates: list[Candidate]) -> list[Candidate]:
        """The sentences that would answer on their own: among the best few eligible ones, those the
        decision model accepts were each the best (the generative modes must rest on one of these)."""
        eligible = [c for c in candidates if c.eligible]
        rest = [c for c in candidates if not c.eligible]
        out = []
        # Only the sentences the extractive answer itself could have used (its best few).
        for c in [c for c in candidates if c.usable][: self.config.max_answer_sentences]:
            if self.confidence(question, [c, *(o for o in eligible if o is not c), *rest]) >= self.model.abstain_below:
                out.append(c)
        return out

    def confidence(self, question: Question, ranked: list[Candidate]) -> float:
        """The decision model's probability that the articles answer, from the best eligible
        sentence of `ranked` (0.0 without one). The verb check costs a parse, so it is made only
        when its result could move the probability across the threshold; otherwise the
        probability is the one without a matching verb, and the decision is the same either way."""
        without = decision_features(question, ranked, same_event=False)
        if without is None:
            return 0.0
        with_verb = without.copy()
        with_verb[DECISION_FEATURES.index("same_event")] = 1.0
        low, high = self.model.probability(without), self.model.probability(with_verb)
        if min(low, high) >= self.model.abstain_below or max(low, high) < self.model.abstain_below:
            return low
        best = next(c for c in ranked if c.eligible)
        return high if verb_check(question, best) else low

    def _counted_nouns(self, q: Question, row: SentenceRow, values: list[Entity]) -> list[str] | None:
        """For "how many <noun>": the nouns the sentence's counts count ("26 tourists"); None when
        the question counts nothing named, or no embedder is at hand (the count_match feature is
        then 1.0)."""
        if q.expects != {"CARDINAL"} or not q.focus or self.embed is None:
            return None
        return [w for v in values if (w := _noun_after(row.text[v.end - row.start :], self.config.answer))]

    def _count_matches(self, q: Question, counted: dict[int, list[str]]) -> dict[int, float]:
        """count_match of each sentence (by position) from its counted nouns: how close in meaning the
        nearest is to the noun asked about ("tourists" for "holidaymakers" is close, "fighter jets"
        not); 0.0 when it counts nothing named. The words are embedded in one call."""
        words = list(dict.fromkeys([q.focus, *(w for nouns in counted.values() for w in nouns)]))
        assert self.embed is not None
        vectors = dict(zip(words, self.embed(words)))
        asked = vectors[q.focus]
        return {i: max((float(vectors[n] @ asked) for n in nouns), default=0.0) for i, nouns in counted.items()}

    def candidates(self, request: AnswerRequest, question: Question | None = None) -> list[Candidate]:
        """Sentences of the retrieved passages with their features and scores, eligible and best first."""
        question = question or self.analyse(request)
        evidence = request.evidence
        # Every sentence of the retrieved stories, each with its clause vector nearest the query.
        rows, vectors = evidence.sentences.rows, evidence.sentences.vectors
        stats = evidence.stats
        q_terms = question_terms(request.query)
        q_term_set = set(q_terms)
        weights = {t: stats.idf(t) for t in q_terms}
        aliases = place_alias_terms(q_terms)
        # The question's most specific words the corpus knows (words it never uses are paraphrases).
        rare = set(sorted((t for t in q_terms if stats.known(t)), key=lambda t: -weights[t])[: self.config.answer.rare_terms])
        total = sum(weights.values()) or 1.0
        focus = set(terms(question.focus)) if question.focus else set()
        model = self.model
        out: list[Candidate] = []
        stories: dict[str, tuple[Text, set[str], set[str]]] = {}
        # Per story: the share of the question's hard constraints and of all of them it states
        # (the same for each of its sentences; checked once, not once a sentence).
        story_shares: dict[str, tuple[float, float]] = {}
        hard = tuple(c for c in question.constraints if c.hard)
        asked_times = stated_times(list(question.dates)) | ordinals_in(" ".join(question.ordinals))
        previous: tuple[str, float, str] = ("", 0.0, "")  # (doc id, lexical coverage, text) of the sentence before
        counted: dict[int, list[str]] = {}  # candidate position → the nouns its counts count ("how many" questions)
        for row, vec, ents in zip(rows, vectors, evidence.entities):  # in document order
            # A place's other names count as the place ("Tokyo had offered" for "Japan offer").
            sentence_terms = [aliases.get(t, t) for t in terms(row.text)]
            present = set(sentence_terms)
            lexical = sum(w for t, w in weights.items() if t in present) / total
            lead = previous[0] != row.doc_id
            prev_lexical, prev_text = (0.0, "") if lead else previous[1:]
            previous = (row.doc_id, lexical, row.text)
            passage = _passage_holding(row, request.passages)
            if passage is None or len(row.text.split()) < self.config.answer.min_words:
                continue
            if row.doc_id not in stories:
                stories[row.doc_id] = evidence.memo.get(("story", row.doc_id),
                                                        partial(_story, evidence.stories.get(row.doc_id)))
            story, story_terms, title_terms = stories[row.doc_id]
            if row.doc_id not in story_shares:
                story_shares[row.doc_id] = (constraint_share(hard, story), constraint_share(question.constraints, story))
            cons_story, soft_in_story = story_shares[row.doc_id]
            values = answer_values(question, row.text, row.start, ents)
            near = near_question(question, row.text, row.start, values, q_term_set, self.config.answer) if values else []
            by_focus = _values_before(values, row, focus, self.config.answer) if focus and values else []
            if question.expects == {"CARDINAL"} and focus & present:
                values = by_focus  # the sentence names what is counted: only the number before it counts it
            view = sentence_view(row.text) if question.constraints else None
            cons_sentence = constraint_share(question.constraints, view) if view else 1.0
            conflict = conflicts(question, row.text, row.start, ents, view) if view else False
            # With the sentence before: "He won the seat in 1964" names its subject one sentence earlier.
            cons_context = constraint_share(question.constraints, sentence_view(f"{prev_text} {row.text}")) if view else 1.0
            x = np.array([
                float(vec @ request.query_vector),
                lexical,
                _ordered_pairs(q_terms, sentence_terms, self.config.answer.order_window),
                1.0 / passage.rank,
                float(bool(values)),
                float(bool(near)),
                float(not question.expects),
                cons_sentence,
                cons_story,
                sum(w for t, w in weights.items() if t in story_terms) / total,
                sum(w for t, w in weights.items() if t in title_terms) / total,
                float(lead),
                float(bool(focus & present)),
                float(bool(by_focus)),
                prev_lexical,
                float(conflict),
                cons_context,
                len(rare & present) / len(rare) if rare else 1.0,
                float(any(v.label == question.primary for v in values)),
                1.0,  # count_match: set below, once every sentence's counted nouns are known
            ], dtype=np.float32)
            if (nouns := self._counted_nouns(question, row, values)) is not None:
                counted[len(out)] = nouns
            # Evidence dated to another year or month than the one asked about is never cited (Candidate.usable).
            # Its date spans and ordinals say when; a year written anywhere, inside a name too ("Nuclear
            # Deal 2016", which the tagger reads as part of a name), counts as naming the one asked.
            dated_otherwise = bool(asked_times) and time_conflict(asked_times, stated_times(
                [row.text[e.start - row.start : e.end - row.start] for e in ents if e.label == "DATE"])
                | ordinals_in(row.text), stated_times([row.text]))
            eligible = (bool(values) or not question.strict) and cons_story == 1.0
            ordered = by_focus + [v for v in near if v not in by_focus] + [v for v in values if v not in near and v not in by_focus]
            if question.primary:  # a person before an organisation for "who"
                ordered.sort(key=lambda v: v.label != question.primary)
            out.append(Candidate(row, passage, vec, x, present, ordered, eligible, soft_in_story,
                                 dated_otherwise=dated_otherwise))
        if counted:
            for i, match in self._count_matches(question, counted).items():
                out[i].features[_COUNT_MATCH] = match
        for c in out:
            c.score = model.score(c.features)
        return ranked(out)


def question_terms(query: str) -> list[str]:
    """The query's content terms: without question words and without the function words spaCy
    lists ("did", "does", "would" locate nothing, yet BM25's list keeps some of them)."""
    words = " ".join(w for w in query.split() if w.strip("?,.!;:'\"").lower() not in stop_words())
    return [t for t in dict.fromkeys(terms(words)) if t not in _QUESTION_WORDS]


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    import_spacy()  # (without torch)
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def place_alias_terms(q_terms: list[str]) -> dict[str, str]:
    """Term of another name of a place the question names → the question's term for it."""
    out: dict[str, str] = {}
    for t in q_terms:
        for alias in place_aliases().get(t, ()):
            for a in terms(alias):
                if a != t:
                    out.setdefault(a, t)
    return out


def _noun_after(text: str, tunables: AnswerTunables = _ANSWER) -> str:
    """The first content word after a number: what it counts ("26 tourists", "12,800 jobs")."""
    for w in text.split()[: tunables.focus_window]:
        w = w.strip(".,;:()'\"’”").lower()
        if w.isalpha() and w not in stop_words() and not like_num(w):  # "million" is part of the number
            return w
    return ""


def _values_before(values: list[Entity], row: SentenceRow, focus: set[str],
                   tunables: AnswerTunables = _ANSWER) -> list[Entity]:
    """Values followed within a few words by the noun asked about: "158 goals", "173 of the 299 votes"."""
    out = []
    for v in values:
        after = row.text[v.end - row.start :].split()[: tunables.focus_window]
        if focus & set(terms(" ".join(after))):
            out.append(v)
    return out


def _describe(q: Question) -> str:
    return q.focus or {"who": "person", "when": "date", "where": "place"}.get(q.wh, "value")


def _story(found: Story | None) -> tuple[Text, set[str], set[str]]:
    """The story's text view (body, title, publisher, masthead names and date), its terms, its title's terms."""
    doc = found.record if found else None
    body = found.body if found else ""
    meta = f"{doc.title}. {doc.publisher}. {' '.join(doc.aside_names)}. {doc.date}" if doc else ""
    return text_view(f"{meta}\n{body}"), set(terms(f"{meta} {body}")), set(terms(doc.title if doc else ""))


def unknown_names(q: Question, stats: CorpusStats) -> list[str]:
    """Names in the question that no indexed article (or its title, publisher or file) contains:
    names are not paraphrased, so no passage can be about them."""
    missing = []
    for c in q.constraints:
        if c.kind not in (NAME, PLACE) or c.label in ("NORP",) or c.text.isupper():
            continue  # nationalities are rephrased, acronyms spelt out
        stems = [t for w in c.words for t in terms(w)]
        if stems and not any(stats.known(s) or s in stats.metadata_terms for s in stems):
            missing.append(c.text)
    return missing


def _ordered_pairs(q_terms: list[str], s_terms: list[str], window: int = _ANSWER.order_window) -> float:
    """Share of the question's neighbouring term pairs that the sentence has in the same order,
    close together (term proximity): "Tokyo had offered" matches "Japan offer"; "India offers"
    does not, though both share the words."""
    pairs = list(zip(q_terms, q_terms[1:]))
    if not pairs:
        return 0.0
    where: dict[str, list[int]] = {}
    for i, t in enumerate(s_terms):
        where.setdefault(t, []).append(i)
    hits = sum(any(0 < j - i <= window for i in where.get(a, []) for j in where.get(b, [])) for a, b in pairs)
    return hits / len(pairs)


def _passage_holding(row: SentenceRow, passages: list[Passage]) -> Passage | None:
    """The best-ranked passage that holds most of the sentence."""
    for p in passages:
        c = p.chunk
        if c.doc_id == row.doc_id and c.holds_most_of(row.start, row.end):
            return p
    return None  # the sentence lies outside every retrieved passage


def compose(chosen: list[Candidate], evidence: Evidence) -> tuple[str, list[Citation]]:
    # Readable order: stories in the order they were first chosen, sentences in article order.
    story_order = list(dict.fromkeys(c.row.doc_id for c in chosen))
    ordered = sorted(chosen, key=lambda c: (story_order.index(c.row.doc_id), c.row.start))
    citations: list[Citation] = []
    parts: list[str] = []
    for c in ordered:
        doc = evidence.document(c.row.doc_id)
        n = len(citations) + 1
        citations.append(citation(n, c.row, c.passage, doc, c.score))
        parts.append(with_markers(c.row.text, [n]))
    return " ".join(parts), citations


__all__ = ["ExtractiveAnswerer", "Candidate", "FEATURES", "join", "ranked"]
