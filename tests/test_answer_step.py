"""The extractive answer step on an `Evidence` built by hand: synthetic stories, hand-placed entity
spans and plain numpy vectors. No index, no Chroma, no embedding model (spaCy parses the question,
as it does in the product); the answer model is the shipped one (rag/data/answer_model.json)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from rag.answer.answering import ABSTAIN_TEXT, AnswerRequest
from rag.answer.extractive import ExtractiveAnswerer
from rag.config import Config
from rag.retrieve.context import CorpusStats, Evidence, Memo, Sentences, Story
from rag.schema import Chunk, DocRecord, Passage, SentenceRow
from rag.store.chroma import one_per_sentence
from rag.text.entities import Entity
from rag.text.lexical import terms

QUERY = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


@dataclass
class Said:
    """One sentence of a synthetic story: its text, its entities (text, label) and its vector."""

    text: str
    entities: tuple[tuple[str, str], ...] = ()
    vector: tuple[float, ...] = (0.2, 1.0, 0.0, 0.0)


def evidence(stories: dict[str, tuple[str, list[Said]]], also_known: str = "") -> tuple[Evidence, list[Passage]]:
    """The Evidence and passages (one chunk a story, in the given order) of synthetic stories
    {doc id: (title, sentences)}. The corpus statistics count the stories' words, plus
    `also_known` (text of stories not retrieved for this question)."""
    rows: list[SentenceRow] = []
    vectors: list[np.ndarray] = []
    spans: list[list[Entity]] = []
    found: dict[str, Story] = {}
    passages: list[Passage] = []
    for rank, (doc_id, (title, said)) in enumerate(stories.items(), start=1):
        body = " ".join(s.text for s in said)
        pos = 0
        ents: list[list] = []
        for s in said:
            start = body.index(s.text, pos)
            rows.append(SentenceRow(doc_id, start, start + len(s.text), s.text))
            vectors.append(unit(*s.vector))
            here = []
            for part, label in s.entities:
                i = body.index(part, start)
                here.append(Entity(i, i + len(part), label))
                ents.append([i, i + len(part), label])
            spans.append(here)
            pos = start + len(s.text)
        record = DocRecord(doc_id, title, f"{doc_id}.txt", "The Daily Test", "2026-11-30", "", len(body),
                           [f"{doc_id}-0"], [], entities=ents)
        found[doc_id] = Story(doc_id, body, record)
        passages.append(Passage(Chunk(f"{doc_id}-0", doc_id, body, 0, len(body), title), 1.0 / rank, rank))
    texts = [s.body for s in found.values()] + ([also_known] if also_known else [])
    df: dict[str, int] = {}
    for t in texts:
        for term in set(terms(t)):
            df[term] = df.get(term, 0) + 1
    meta = frozenset(t for s in found.values() if s.record for t in terms(f"{s.record.title} {s.record.publisher}"))
    ev = Evidence(Sentences(rows, np.array(vectors)), spans, found, CorpusStats(len(texts), df, meta))
    return ev, passages


def ask(question: str, ev: Evidence, passages: list[Passage]):
    answerer = ExtractiveAnswerer(Config())
    request = AnswerRequest(question, question, passages, QUERY, ev)
    return answerer, request, answerer.answer(request)


QUESTION = "How many jobs will Nissan cut at its Sunderland plant?"
PLANT = ("Nissan to cut jobs at Sunderland plant", [
    Said("Nissan said on Tuesday that it will cut 900 jobs at its Sunderland plant by the end of next year.",
         (("Nissan", "ORG"), ("Tuesday", "DATE"), ("900", "CARDINAL"), ("Sunderland", "GPE"),
          ("the end of next year", "DATE")), (0.9, 0.3, 0.1, 0.0)),
    Said("The carmaker has built cars in the north-east of England since the 1980s.",
         (("England", "GPE"), ("the 1980s", "DATE")), (0.3, 0.9, 0.2, 0.0)),
    Said("Union leaders said they would meet managers later this week to discuss the plans.",
         (("later this week", "DATE"),), (0.2, 0.2, 1.0, 0.0)),
])


def test_it_answers_with_the_sentence_holding_the_value_and_cites_its_exact_span():
    ev, passages = evidence({"plant": PLANT})
    _, _, answer = ask(QUESTION, ev, passages)
    assert not answer.abstained, answer.notes
    body = ev.stories["plant"].body
    [cited] = answer.citations
    assert cited.doc_id == "plant"
    assert body[cited.start : cited.end] == cited.snippet == PLANT[1][0].text
    assert cited.source == "plant.txt" and cited.publisher == "The Daily Test"  # from the story's record
    assert answer.text.startswith(PLANT[1][0].text[:-1]) and "[1]" in answer.text
    assert answer.short is not None
    assert answer.short.text == "900" == body[answer.short.start : answer.short.end]
    assert answer.short.citation == 1 and answer.short.label == "CARDINAL"


def test_it_abstains_when_no_sentence_holds_a_value_of_the_kind_asked_for():
    # The same story without the figure: it talks about the cuts but never says how many.
    vague = ("Nissan to cut jobs at Sunderland plant", [
        Said("Nissan said on Tuesday that it will cut jobs at its Sunderland plant by the end of next year.",
             (("Nissan", "ORG"), ("Tuesday", "DATE"), ("Sunderland", "GPE"), ("the end of next year", "DATE")),
             (0.9, 0.3, 0.1, 0.0)),
        *PLANT[1][1:],
    ])
    ev, passages = evidence({"plant": vague})
    answerer, request, answer = ask(QUESTION, ev, passages)
    assert answer.abstained and answer.text == ABSTAIN_TEXT and not answer.citations and answer.short is None
    candidates = answerer.candidates(request)
    assert candidates and not any(c.eligible or c.values for c in candidates)
    assert any("No passage gives the job" in n for n in answer.notes), answer.notes


TOYOTA = ("Toyota to cut jobs at Derby plant", [
    Said("Toyota said on Tuesday that it will cut 300 jobs at its Derby plant by the end of next year.",
         (("Toyota", "ORG"), ("Tuesday", "DATE"), ("300", "CARDINAL"), ("Derby", "GPE"),
          ("the end of next year", "DATE")), (0.95, 0.3, 0.0, 0.0)),
    Said("Managers at the plant told staff about the cuts on Tuesday morning.",
         (("Tuesday morning", "TIME"),), (0.3, 0.9, 0.0, 0.0)),
])


def test_a_story_lacking_what_the_question_names_cannot_answer_it():
    # Nissan and Sunderland are in the corpus (another story), not in the Toyota story retrieved.
    ev, passages = evidence({"toyota": TOYOTA}, also_known=PLANT[1][0].text)
    answerer, request, answer = ask(QUESTION, ev, passages)
    candidates = answerer.candidates(request)
    typed = [c for c in candidates if c.values]
    assert [c.row.text for c in typed] == [TOYOTA[1][0].text]  # it holds a number of jobs...
    assert not typed[0].eligible  # ...but the story is not about Nissan in Sunderland
    assert answer.abstained and not answer.citations


def test_the_story_about_what_the_question_names_answers_though_ranked_below():
    ev, passages = evidence({"toyota": TOYOTA, "plant": PLANT})  # the Toyota story retrieved first
    _, _, answer = ask(QUESTION, ev, passages)
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {"plant"}
    assert answer.short is not None and answer.short.text == "900"


def test_a_name_the_corpus_never_uses_is_reported_and_nothing_is_cited():
    ev, passages = evidence({"toyota": TOYOTA})  # no story of the corpus names Nissan or Sunderland
    answerer, request, answer = ask(QUESTION, ev, passages)
    assert answer.abstained and not answer.citations
    assert any("never mention Nissan, Sunderland" in n for n in answer.notes), answer.notes
    ev_known, _ = evidence({"toyota": TOYOTA}, also_known="Nissan has a plant in Sunderland.")
    assert not any("never mention" in n for n in ask(QUESTION, ev_known, passages)[2].notes)


def test_derived_story_views_are_made_once_per_memo():
    memo = Memo()
    ev, passages = evidence({"toyota": TOYOTA, "plant": PLANT})
    ev = Evidence(ev.sentences, ev.entities, ev.stories, ev.stats, memo=memo)
    first = ask(QUESTION, ev, passages)[2]
    assert len(memo) == 2  # one view per story
    views = dict(memo._items)
    again = ask(QUESTION, ev, passages)[2]
    assert dict(memo._items) == views and all(memo._items[k] is views[k] for k in views)
    assert again.text == first.text


def test_evidence_refuses_entity_lists_that_do_not_match_the_sentences():
    ev, _ = evidence({"plant": PLANT})
    with pytest.raises(ValueError, match="entity lists"):
        Evidence(ev.sentences, ev.entities[:-1], ev.stories, ev.stats)


def test_one_vector_per_sentence_nearest_the_query_or_the_first_clause():
    text = "The plant will close, the company said on Tuesday after talks failed."
    clauses = [SentenceRow("d", 0, len(text), text, 0, 20), SentenceRow("d", 0, len(text), text, 22, 70),
               SentenceRow("d", 80, 100, "Another sentence here.")]
    vectors = np.array([unit(0.1, 1, 0, 0), unit(1, 0.1, 0, 0), unit(0, 0, 1, 0)])
    rows, near = one_per_sentence(clauses, vectors, QUERY)
    assert [r.seg_start for r in rows] == [22, -1] and np.allclose(near[0], vectors[1])
    rows, first = one_per_sentence(clauses, vectors)
    assert [r.seg_start for r in rows] == [0, -1] and np.allclose(first[0], vectors[0])


def test_the_short_answer_is_the_stated_figure_not_its_conversion_nor_a_vague_value():
    money = ("Wal-Mart settles gun lawsuit", [
        Said("Wal-Mart has agreed to pay $14.5m (£7.74m) to settle a lawsuit over gun sales in California.",
             (("Wal-Mart", "ORG"), ("$14.5m", "MONEY"), ("£7.74m", "MONEY"), ("California", "GPE")), (0.95, 0.2, 0.0, 0.0)),
    ])
    ev, passages = evidence({"walmart": money})
    _, _, answer = ask("How much did Wal-Mart agree to pay to settle the California lawsuit?", ev, passages)
    assert not answer.abstained and answer.short is not None
    assert answer.short.text == "$14.5m"
    year = ("Coast guards meet", [
        Said("The two coast guards have held annual exchanges since 2006, officials said.",
             (("annual", "DATE"), ("2006", "DATE")), (0.95, 0.2, 0.0, 0.0)),
    ])
    ev, passages = evidence({"guards": year})
    _, _, answer = ask("Since what year have the coast guards held exchanges?", ev, passages)
    assert not answer.abstained and answer.short is not None
    assert answer.short.text == "2006"


@dataclass
class _Valued:
    """An answer sentence as the short answer reads it (rag.answer.short.ValuedSentence)."""

    row: SentenceRow
    values: list[Entity]
    score: float


def _valued(text: str, values: tuple[str, ...], score: float, start: int = 0, labels: tuple[str, ...] = ()) -> _Valued:
    spans = [Entity(start + text.index(v), start + text.index(v) + len(v), label)
             for v, label in zip(values, labels or ("ORG",) * len(values))]
    return _Valued(SentenceRow("d1", start, start + len(text), text), spans, score)


def test_the_short_answer_is_the_value_beside_the_questions_words_not_the_best_sentences_first():
    from rag.answer.question import analyse
    from rag.answer.short import pick_short
    from rag.tunables import AnswerTunables

    question = analyse("Which agency said retail sales fell 2% in January?")
    q_terms = set(terms("agency said retail sales fell 2% january"))
    best = _valued("Shops such as Fernway and Bolt Stores reported that their winter trading had beaten forecasts.",
                   ("Fernway", "Bolt Stores"), score=2.0)
    second = _valued("The Bureau of Trade Data said retail sales fell 2% in January, the steepest drop in years.",
                     ("Bureau of Trade Data",), score=1.2, start=200)
    picked = pick_short(question, q_terms, [best, second], [best, second], AnswerTunables())
    assert picked is not None and picked[0] is second
    assert second.row.text[picked[1].start - 200 : picked[1].end - 200] == "Bureau of Trade Data"
    # With nothing of the question beside any value, the best sentence's first value answers.
    far = _valued("In other news the Bureau of Trade Data moved offices this spring to a new building.",
                  ("Bureau of Trade Data",), score=1.2, start=200)
    picked = pick_short(question, q_terms, [best, far], [best, far], AnswerTunables())
    assert picked is not None and picked[0] is best and picked[1] == best.values[0]


def _short(question: str, *sentences: _Valued) -> str:
    from rag.answer.extractive import question_terms
    from rag.answer.question import analyse
    from rag.answer.short import pick_short
    from rag.tunables import AnswerTunables

    picked = pick_short(analyse(question), set(question_terms(question)), list(sentences), list(sentences), AnswerTunables())
    assert picked is not None
    c, v = picked
    return c.row.text[v.start - c.row.start : v.end - c.row.start]


def test_the_short_answer_to_who_is_a_person_and_to_on_what_date_a_calendar_date():
    # The organisation stands nearer the question's words, but "who" asks for a person first.
    film = _valued("Northgate Pictures financed Harbour Lights, which was directed by Mara Quell over two winters.",
                   ("Northgate Pictures", "Mara Quell"), score=2.0, labels=("ORG", "PERSON"))
    assert _short("Who directed the film Harbour Lights?", film) == "Mara Quell"
    # "45 years ago" stands beside the question's words; the date names the day.
    cup = _valued("The club last knocked Rovers out of the cup 45 years ago, a run that ended on 16 January 1996 in a replay.",
                  ("45 years ago", "16 January 1996"), score=2.0, labels=("DATE", "DATE"))
    assert _short("On what date did the club last knock Rovers out of the cup?", cup) == "16 January 1996"


def test_how_much_with_a_verb_of_paying_is_answered_by_the_amount():
    # "How much" may ask for a share or a quantity, but "pay" asks for money: the share stands
    # nearer the question's words, the amount answers.
    deal = _valued("The brewer is to pay 481m yuan for a 33% holding in the Harbin firm.", ("481m yuan", "33%"),
                   score=2.0, labels=("MONEY", "PERCENT"))
    assert _short("How much is the brewer to pay for its holding in the Harbin firm?", deal) == "481m yuan"


def test_the_short_answer_is_the_name_the_article_writes_beside_the_noun_asked_about():
    # Real spaCy parses. The name beside "consultancy" wins over a typed value elsewhere, and over
    # a sentence with no value the tagger found; a name glued by a hyphen stays whole.
    survey = _valued("The poll of 3,000 voters was carried out by consultancy group Vantrel for the ministry.",
                     (), score=2.0)
    other = _valued("Harbour Bank welcomed the findings on Tuesday.", ("Harbour Bank",), score=1.0, start=300)
    assert _short("Which consultancy carried out the poll of voters?", survey, other) == "Vantrel"
    station = _valued("The KXLV-TV Fox affiliate in Ohio was the only station to drop the show.", (), score=2.0)
    assert _short("Which Ohio Fox affiliate dropped the show?", station) == "KXLV-TV"
    museum = _valued("The researchers showed their work at the Hallam Museum in Leeds last week.", (), score=2.0)
    assert _short("At which Leeds museum did the researchers show their work?", museum) == "Hallam Museum"


def test_the_name_rule_parses_a_sentence_once():
    from rag.answer import short
    from rag.answer.question import analyse

    # Asked again (or another question about the same noun), the answer sentence is not parsed again.
    deal = _valued("The stake was sold through brokers Halvern Lane to a pension fund.", (), score=2.0)
    question = analyse("Which brokers sold the stake?")
    before = short._tagged.cache_info()
    first, second = short.apposed_name(question, [deal]), short.apposed_name(question, [deal])
    after = short._tagged.cache_info()
    assert first is not None and second == first
    assert deal.row.text[first[1].start - deal.row.start : first[1].end - deal.row.start] == "Halvern Lane"
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1


def test_no_name_beside_the_noun_leaves_the_typed_values_to_answer():
    from rag.answer.extractive import question_terms
    from rag.answer.question import analyse
    from rag.answer.short import apposed_name, pick_short
    from rag.tunables import AnswerTunables

    # A place before the noun says where the thing is from; a hyphenated "year-end" is not the
    # noun "end"; a figure question never takes a name.
    film = _valued("The animation became the first film to win without playing in U.S. movie theaters.", (), score=2.0)
    assert apposed_name(analyse("Which movie won the animation prize?"), [film]) is None
    tour = _valued("Dana Kolm finished as the Year-End World No 1 for a second season.", ("Dana Kolm",), score=2.0,
                   labels=("PERSON",))
    year_end = analyse("What is the year-end No 1 in women's tennis?")
    assert year_end.focus == "end"  # (the small parser's reading: the rule must not take it as the noun "end")
    assert apposed_name(year_end, [tour]) is None
    jobs = _valued("The carmaker Norvik will cut 1,200 jobs at its plant.", ("1,200",), score=2.0, labels=("CARDINAL",))
    question = "How many jobs will the carmaker cut?"
    assert apposed_name(analyse(question), [jobs]) is None
    picked = pick_short(analyse(question), set(question_terms(question)), [jobs], [jobs], AnswerTunables())
    assert picked is not None and picked[1] == jobs.values[0]


def test_a_figure_dated_to_another_month_does_not_answer_for_the_month_asked():
    mail = ("Firm swamped by spam", [
        Said("The engineering firm received 12 million e-mails in January, most of them spam.",
             (("12 million", "CARDINAL"), ("January", "DATE")), (0.95, 0.3, 0.0, 0.0)),
        Said("Its managers said the flood of mail had been growing for a year.",
             (("a year", "DATE"),), (0.3, 0.9, 0.0, 0.0)),
    ])
    ev, passages = evidence({"mail": mail})
    answerer, request, answer = ask("How many e-mails did the engineering firm receive in January?", ev, passages)
    assert not answer.abstained and answer.short is not None and answer.short.text == "12 million"
    answerer, request, answer = ask("How many e-mails did the engineering firm receive in December?", ev, passages)
    [dated] = [c for c in answerer.candidates(request) if c.dated_otherwise]
    assert dated.eligible and not dated.usable and dated.row.text == mail[1][0].text
    assert answer.abstained and not answer.citations
    assert any("another year, month" in n for n in answer.notes), answer.notes
