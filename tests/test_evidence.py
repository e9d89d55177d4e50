"""The question's expected answer and constraints (spaCy's real English model), and the evidence
checks on synthetic sentences: pure functions, no index."""

from __future__ import annotations

import pytest

from rag.answer.evidence import (
    answer_values,
    conflicts,
    constraint_share,
    conversion,
    holds,
    names_calendar_date,
    ordinals_in,
    share_near,
    stated_times,
    text_view,
    time_conflict,
    vague,
)
from rag.answer.question import PLACE, VALUE, YEAR, Constraint, analyse, types_for_noun
from rag.text import entities
from rag.text.entities import Entity, EntityTagger, entities_in


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who founded the company?", {"PERSON"}),
        ("When did the plant open?", {"DATE"}),
        ("Where will the final be played?", {"GPE"}),
        ("How many jobs will go at the bank?", {"CARDINAL"}),
        ("How much did the club pay for the striker?", {"MONEY"}),
        ("What percentage of voters backed the plan?", {"PERCENT"}),
        ("Which company bought the brewer?", {"ORG"}),
        ("How far is the bridge from the city?", {"QUANTITY"}),
        ("In which year did the line close?", {"DATE"}),
    ],
)
def test_expected_answer_type_comes_from_the_wh_word_and_its_noun(question, expected):
    q = analyse(question)
    assert expected <= q.expects, (question, q.expects)


@pytest.mark.parametrize("question", ["Why did the firm cut jobs?", "What did the minister say about the budget?"])
def test_open_questions_expect_no_entity_type(question):
    q = analyse(question)
    assert not q.expects and not q.strict


def test_how_much_does_not_accept_a_bare_count():
    q = analyse("How much money is the carmaker investing in its new plant?")
    assert "MONEY" in q.expects and "CARDINAL" not in q.expects


def test_unknown_agent_noun_asks_for_a_person_or_a_body():
    assert types_for_noun("collector") == {"PERSON", "ORG"}
    assert types_for_noun("banana") == frozenset()


def test_constraints_are_the_names_places_years_and_figures_the_question_states():
    q = analyse("What profit did Time Warner report for 2004 in the United States after its $156m deal?")
    kinds = {(c.kind, c.text) for c in q.constraints}
    assert (YEAR, "2004") in kinds
    assert any(k == VALUE and "156" in t for k, t in kinds)
    assert any(k == PLACE for k, _ in kinds)
    assert any("Time Warner" in t for _, t in kinds)


def test_a_title_beside_a_name_is_not_a_constraint_of_its_own():
    q = analyse("In which year did Sir Anthony Meyer win the seat?")
    assert "Sir" not in {c.text for c in q.constraints}


def test_year_and_figure_constraints_must_be_stated_exactly():
    text = text_view("Profits rose to $1.13bn in 2004, from $639m a year earlier.")
    assert holds(Constraint("2004", YEAR, ("2004",)), text)
    assert not holds(Constraint("2003", YEAR, ("2003",)), text)
    assert holds(Constraint("$639m", VALUE, ("639",)), text)
    assert not holds(Constraint("$63m", VALUE, ("63",)), text)


def test_places_match_their_other_names_but_not_other_places():
    text = text_view("The US firm said Japanese buyers and Tokyo officials welcomed it.")
    assert holds(Constraint("the United States", PLACE, ("united", "states"), "GPE"), text)
    assert holds(Constraint("Japan", PLACE, ("japan",), "GPE"), text)
    assert not holds(Constraint("France", PLACE, ("france",), "GPE"), text)
    # "us" the pronoun is not the country
    assert not holds(Constraint("US", PLACE, ("us",), "GPE"), text_view("Let us see what happens."))


def test_names_match_run_together_as_initials_and_by_surname():
    text = text_view("TimeWarner and the European Union agreed, Mr Blair said.")
    assert holds(Constraint("Time Warner", "name", ("time", "warner"), "ORG"), text)
    assert holds(Constraint("EU", "name", ("eu",), "ORG"), text)
    assert holds(Constraint("G7", "name", ("g7",), "ORG"), text_view("Modi will attend the G7 summit."))
    assert holds(Constraint("Tony Blair", "name", ("tony", "blair"), "PERSON"), text)
    assert not holds(Constraint("Gordon Brown", "name", ("gordon", "brown"), "PERSON"), text)


def test_constraint_share_counts_each_constraint_once():
    cs = (Constraint("2004", YEAR, ("2004",)), Constraint("2005", YEAR, ("2005",)))
    assert constraint_share(cs, text_view("In 2004 it grew.")) == 0.5
    assert constraint_share((), text_view("anything")) == 1.0


def _tag(sentence: str) -> list[Entity]:
    return EntityTagger().tag([sentence])[0]


def test_an_answer_value_is_of_the_expected_type_and_not_already_in_the_question():
    sentence = "Wal-Mart has agreed to pay $14.5m to settle a lawsuit in California."
    ents = _tag(sentence)
    q = analyse("How much did Wal-Mart pay to settle the California lawsuit?")
    values = answer_values(q, sentence, 0, ents)
    assert [sentence[v.start : v.end] for v in values] == ["$14.5m"]
    q_named = analyse("Who settled for $14.5m?")
    assert all(sentence[v.start : v.end] != "$14.5m" for v in answer_values(q_named, sentence, 0, ents))


def _conflicts(question: str, sentence: str) -> bool:
    return conflicts(analyse(question), sentence, 0, _tag(sentence), text_view(sentence))


def test_a_sentence_about_another_country_or_year_conflicts():
    assert _conflicts("How many caps has Dave Hodges won for Wales?", "Hodges has won 54 caps for the USA.")
    assert not _conflicts("How many caps has Dave Hodges won for Wales?", "Hodges has won 54 caps for Wales.")
    assert _conflicts("What was the firm's revenue in 2004?", "Its revenue in 2003 was $69.4m.")


def test_entities_in_returns_the_spans_inside_a_sentence():
    ents = [[0, 5, "ORG"], [10, 14, "DATE"], [20, 30, "PERSON"]]
    assert entities_in(ents, 8, 16) == [Entity(10, 14, "DATE")]
    assert entities_in(ents, 0, 40) == [Entity(*e) for e in ents]
    assert entities_in(ents, 25, 40) == []  # a span that starts before the sentence is not inside it


def test_tagger_caches_by_text(tmp_path, monkeypatch):
    tagger = EntityTagger(tmp_path / "entities.sqlite")
    first = tagger.tag(["Tony Blair visited Paris on Monday."])[0]
    assert {e.label for e in first} >= {"PERSON", "GPE"}
    again = EntityTagger(tmp_path / "entities.sqlite")
    monkeypatch.setattr(entities, "ner_pipeline", lambda: pytest.fail("a cached text was tagged again"))
    assert again.tag(["Tony Blair visited Paris on Monday."])[0] == first


def test_an_amount_in_a_currency_the_tagger_misses_is_money_and_one_digit_figures_count():
    sentence = "The expansion will cost 12 million euros and open in 2031."
    q = analyse("How much will the expansion cost?")
    values = answer_values(q, sentence, 0, _tag(sentence))
    assert [sentence[v.start : v.end] for v in values] == ["12 million euros"]
    share = "Japan will raise defence spending to 2% of GDP in 2027."
    q_share = analyse("What share of GDP will Japan spend on defence?")
    assert [share[v.start : v.end] for v in answer_values(q_share, share, 0, _tag(share))] == ["2%"]


def test_a_unit_modifier_narrows_a_plain_figure():
    assert analyse("What was the exact dollar total of the projects?").expects == {"MONEY"}
    assert analyse("What was the percentage rise in sales?").expects == {"PERCENT"}
    assert len(analyse("What spending target has Japan set?").expects) > 1  # no unit named: any figure


def test_prefix_lookups_agree_with_a_scan_of_every_word():
    text = ("The Japanese delegation met British officials in Brighton in 2004; the 2004s boom, "
            "Britain's Japan-born envoy and 20045 others.")
    view = text_view(text)
    for prefix in ("japa", "brit", "brig", "2004", "zzz", "the", "a", "20045", "o"):
        assert view.has_prefix(prefix) == any(w.startswith(prefix) for w in view.words), prefix
        for length in (4, 5, 7):
            expected = any(w.startswith(prefix) and len(w) == length for w in view.words)
            assert view.has_prefix(prefix, length=length) == expected, (prefix, length)


@pytest.mark.parametrize("sentence, age", [
    ("Peter Walsh, 51, said the striker had to go.", "51"),
    ("The 29-year-old won the race in Brussels.", "29-year-old"),
    ("She retired from running aged 37 last year.", "37"),
    ("Ann Lee (37) finished second.", "37"),
    ("He is 24 years old and already a captain.", "24"),
])
def test_how_old_is_answered_only_by_a_number_written_as_an_age(sentence, age):
    q = analyse("How old is the athlete?")
    assert q.age
    values = [sentence[v.start : v.end] for v in answer_values(q, sentence, 0, _tag(sentence))]
    assert any(age in v for v in values), values


@pytest.mark.parametrize("sentence", [
    "Police have charged Mr Grant and 30 others over the fraud.",
    "The four-time champion will race on Friday.",
    "The club fined him three weeks' wages, about 60,000 pounds.",
])
def test_counts_days_and_sums_are_not_ages(sentence):
    q = analyse("How old is the former finance chief?")
    assert answer_values(q, sentence, 0, _tag(sentence)) == []
    assert not analyse("How long is the race?").age


def test_an_age_is_no_answer_to_when():
    # The tagger reads "29-year-old" as a date; asked when, only the month is a time.
    sentence = "The 29-year-old had a kidney transplant in July 2004."
    values = [sentence[v.start : v.end] for v in answer_values(analyse("When did the winger have his transplant?"),
                                                                  sentence, 0, _tag(sentence))]
    assert values == ["July 2004"], values


def test_an_age_next_to_another_persons_name_is_not_the_age_asked_for():
    sentence = "The 19-year-old Tom Harris beat Peter Walsh in the final."
    ents = _tag(sentence)
    assert [sentence[v.start : v.end] for v in answer_values(analyse("How old is Tom Harris?"), sentence, 0, ents)] == ["19-year-old"]
    assert answer_values(analyse("How old is Peter Walsh?"), sentence, 0, ents) == []
    comma = "Peter Walsh, 34, said he would retire."
    assert answer_values(analyse("How old is Tom Harris?"), comma, 0, _tag(comma)) == []


def test_a_figure_the_question_states_is_not_an_answer_even_with_a_thousands_comma():
    q = analyse("How many of the bank's 2,850 job cuts will fall in Scotland?")
    sentence = "The bank is to cut 2,850 jobs as a result of falling profits."
    assert answer_values(q, sentence, 0, _tag(sentence)) == []


def test_a_name_the_question_gives_is_not_new_in_initials_or_spelt_out():
    q = analyse("Who is the chairman of Oil & Natural Gas Corp, the explorer in talks over the assets?")
    sentence = "ONGC chairman Subir Raha said the company was in touch with the sellers."
    values = [sentence[v.start : v.end] for v in answer_values(q, sentence, 0, _tag(sentence))]
    assert "ONGC" not in values and "Subir Raha" in values
    q_short = analyse("Which club was QPR goalkeeper Chris Day set to join on loan?")
    spelt = "Queens Park Rangers keeper Chris Day is set to join Preston on a one-month loan."
    assert all(not spelt[v.start : v.end].startswith("Queens") for v in answer_values(q_short, spelt, 0, _tag(spelt)))


def test_a_constraint_written_as_its_initials_holds():
    q = analyse("What fine did the Rugby Football Union impose on the coach?")
    union = next(c for c in q.constraints if "rugby" in c.words)
    assert holds(union, text_view("The RFU fined the coach £2,000."))
    assert not holds(union, text_view("The FA fined the coach £2,000."))
    person = next(c for c in analyse("What did Tony Blair say about the plan?").constraints if c.label == "PERSON")
    assert not holds(person, text_view("The TB clinic will close next year."))


def test_the_answer_itself_is_not_another_one_of_what_the_question_names():
    assert not _conflicts("Who took over as chief executive of the firm after Paul Tellier left?",
                          "Laurent Beaudoin will take on the role of chief executive.")
    assert _conflicts("How many goals did Julie Foudy score for the US?",
                      "Mia Hamm ends her career with 158 goals in 276 games for the US.")


def test_on_what_date_is_not_answered_by_a_year_alone_nor_a_count_by_one_of():
    q = analyse("On what date did the singer die?")
    year = "When a film version was made in 1993, the singer came out of retirement."
    assert answer_values(q, year, 0, _tag(year)) == []
    day = "The singer died on 7 June 2004 in Los Angeles."
    assert answer_values(q, day, 0, _tag(day))
    count = analyse("How large a majority did the minister have?")
    one_of = "One of the few ministers to serve under Callaghan, he was given the agriculture portfolio."
    assert answer_values(count, one_of, 0, _tag(one_of)) == []


@pytest.mark.parametrize("value, expected", [
    ("millions of euros", True), ("the past year", True), ("annual", True),
    ("$14.5m", False), ("two", False), ("a month", False), ("September 2003", False), ("Friday", False),
])
def test_a_value_without_a_figure_or_a_name_is_vague(value, expected):
    assert vague(value) is expected


def test_an_amount_in_brackets_after_another_is_its_conversion():
    sentence = "Wal-Mart will pay $14.5m (£7.74m) to settle the case, and £2m (a fine) later."
    values = [Entity(sentence.index(t), sentence.index(t) + len(t), "MONEY") for t in ("$14.5m", "£7.74m", "£2m")]
    assert [conversion(sentence, 0, v, values) for v in values] == [False, True, False]


def test_share_near_counts_the_questions_terms_beside_the_value_not_its_own_words():
    from rag.text.lexical import terms

    sentence = "The ferry for the island route was built at the Harland Yard in Belfast, the company said."
    at = sentence.index("Harland Yard")
    value = Entity(10 + at, 10 + at + len("Harland Yard"), "FAC")
    asked = set(terms("belfast ferry built yard"))  # "yard" is the value's own word: never beside it
    assert share_near(sentence, 10, value, asked, window=3) == pytest.approx(2 / 4)  # "built", "belfast"
    assert share_near(sentence, 10, value, asked, window=9) == pytest.approx(3 / 4)  # and "ferry"
    assert share_near(sentence, 10, value, set(), window=6) == 0.0


@pytest.mark.parametrize(("value", "named"), [("16 January 1996", True), ("Oct. 18", True), ("January 2005", True),
                                              ("Friday", False), ("45 years ago", False), ("January", False)])
def test_a_calendar_date_names_a_month_with_a_number(value, named):
    assert names_calendar_date(value) is named


def test_the_question_keeps_its_dates_and_they_read_as_years_and_months():
    q = analyse("How many e-mails did the firm receive in December 2004?")
    assert stated_times(list(q.dates)) == {"2004", "m12"}
    assert analyse("What was the audience for the third series of the show?").ordinals == ("third",)
    assert analyse("How old was he when he first took power?").ordinals == ()  # when, not which one
    assert stated_times(["the 2003-04 season", "early May"]) == {"2003", "2004", "m5"}
    assert stated_times(["may"]) == frozenset()  # the verb, not the month
    assert stated_times(["2004-05-12", "2004-11"]) == {"2004"}  # a day and a month, not seasons


@pytest.mark.parametrize(
    "asked, stated, conflict",
    [
        (["2004"], ["2003"], True),  # another year only
        (["2004"], ["2003", "2004"], False),  # the asked year is among them
        (["December"], ["January"], True),  # another month
        (["December 2004"], ["January"], True),
        (["December"], ["2004"], False),  # a year says nothing against a month
        (["2004"], ["last week"], False),  # nothing dated
        ([], ["2003"], False),  # the question names no time
    ],
)
def test_evidence_dated_to_another_year_or_month_conflicts(asked, stated, conflict):
    assert time_conflict(stated_times(asked), stated_times(stated)) is conflict


def test_the_asked_year_written_inside_a_name_is_no_conflict():
    sentence = "India Japan Nuclear Deal 2016: the agreement lets India build six reactors by 2032."
    asked, dated = stated_times(["2016"]), stated_times(["2032"])  # the tagger reads "2016" as part of a name
    assert time_conflict(asked, dated)
    assert not time_conflict(asked, dated, stated_times([sentence]))
    assert time_conflict(ordinals_in("the third series"), ordinals_in("the fourth series"), stated_times(["The fourth series."]))
    assert not time_conflict(ordinals_in("the third series"), ordinals_in("the 3rd and 4th series"))
    # A written ordinal keeps its thousands: the 2,838th day is not the 838th.
    assert ordinals_in("on the 2,838th day, the 21st century's third") == {"o2838", "o21", "o3"}
