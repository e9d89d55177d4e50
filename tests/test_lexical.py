"""Term rules (rag.text.lexical): the unit BM25 and the answer step's word overlap share."""

from __future__ import annotations

from rag.schema import Chunk
from rag.text.lexical import lexical_text, terms


def test_terms_are_lower_case_stems_without_stop_words():
    assert terms("The Ministers OFFERING the loans") == terms("minister offered loan")
    assert "the" not in terms("the") and terms("The and of") == []


def test_possessives_and_curly_apostrophes_fold_into_the_name():
    assert terms("Tokyo's offer") == terms("Tokyo’s offer") == terms("Tokyo offer")


def test_figures_stay_whole_terms():
    out = terms("Profits rose 76% to $1.13bn in 2004")
    assert "1.13bn" in out and "2004" in out and "76" in out


def test_repeated_calls_give_equal_but_independent_lists():
    first = terms("harbour dredging starts")
    first.append("mutated")
    assert terms("harbour dredging starts") == terms("harbour dredging starts") != first


def test_a_chunk_is_searched_with_its_story_title():
    chunk = Chunk("d1-c0", "d1", "He said the deal was signed.", 0, 28, title="Narvik ferry grant approved")
    assert set(terms("Narvik ferry")) <= set(terms(lexical_text(chunk)))
    assert lexical_text(Chunk("d1-c0", "d1", "Text only.", 0, 10)) == "Text only."
