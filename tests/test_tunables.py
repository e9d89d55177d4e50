"""The named tunables (rag/tunables.py): the old constants' values, reachable from Config and the eval."""

from dataclasses import FrozenInstanceError, fields

import pytest

from rag.config import Config, tunable_keys
from rag.errors import ConfigError
from rag.eval.configs import parse_overrides, resolve
from rag.ingest.cleaning import clean_page
from rag.retrieve.followup import condense, is_followup
from rag.tunables import (
    GROUPS,
    AnswerTunables,
    CleaningTunables,
    GenerationTunables,
    GroundingTunables,
    IndexingTunables,
    RetrievalTunables,
)

# The values the constants had before they became tunables (a regression check: behaviour must not move).
OLD_VALUES = {
    "answer.min_words": 6,
    "answer.voters": 8,
    "answer.rare_terms": 3,
    "answer.focus_window": 5,
    "answer.near_words": 10,
    "answer.short_near_words": 6,  # new on 2026-12-04 (the direct answer), not a moved constant
    "answer.order_window": 4,
    "grounding.min_coverage": 0.7,
    "grounding.min_paraphrase_coverage": 0.5,
    "grounding.min_paraphrase_cosine": 0.7,
    "grounding.min_claim_terms": 2,
    "grounding.cosine_weight": 0.5,
    "grounding.pair_penalty": 0.1,
    "generation.drift_limit": 2,
    "generation.relevance_ratio": 0.7,
    "generation.abstain_gate": True,
    "generation.context_margin": 48,
    "cleaning.body_min_words": 12,
    "cleaning.body_baseline": 10,
    "cleaning.short_line_cost": 3,
    "cleaning.repeated_keep_min_words": 20,
    "cleaning.body_unpunctuated_words": 20,
    "cleaning.headline_min_words": 3,
    "cleaning.headline_max_words": 24,
    "cleaning.section_heading_max_words": 12,
    "cleaning.title_lookback_lines": 8,
    "cleaning.note_sentence_min_words": 3,
    "cleaning.note_line_min_words": 10,
    "cleaning.related_min_words": 50,
    "retrieve.common_share": 0.3,
    "retrieve.followup_max_terms": 2,
    "indexing.min_sentence_chars": 20,
    "indexing.max_segment_words": 24,
    "indexing.min_segment_words": 8,
}


def test_defaults_are_the_old_constants():
    cfg = Config()
    assert sorted(tunable_keys()) == sorted(OLD_VALUES)
    for key, value in OLD_VALUES.items():
        group, name = key.split(".")
        got = getattr(getattr(cfg, group), name)
        assert got == value and type(got) is type(value), key


def test_groups_are_frozen_and_reachable_from_config():
    cfg = Config()
    assert [type(getattr(cfg, g)) for g in GROUPS] == [
        AnswerTunables, GroundingTunables, GenerationTunables, CleaningTunables, RetrievalTunables, IndexingTunables]
    assert not set(GROUPS) & {f.name for f in fields(Config) if f.name not in GROUPS}  # no clash (retrieval is a mode)
    with pytest.raises(FrozenInstanceError):
        cfg.answer.min_words = 8  # type: ignore[misc]


def test_env_override(monkeypatch):
    monkeypatch.setenv("RAG_ANSWER__MIN_WORDS", "8")
    monkeypatch.setenv("RAG_GROUNDING__MIN_COVERAGE", "0.75")
    monkeypatch.setenv("RAG_GENERATION__ABSTAIN_GATE", "no")
    monkeypatch.setenv("RAG_TOP_K", "7")
    cfg = Config.from_env()
    assert cfg.answer.min_words == 8 and cfg.answer.voters == 8  # the rest of the group keeps its defaults
    assert cfg.grounding.min_coverage == 0.75 and cfg.generation.abstain_gate is False and cfg.top_k == 7
    # A keyword override wins over the environment, as for the plain fields.
    assert Config.from_env(**{"answer.min_words": 9}).answer.min_words == 9


def test_env_override_refuses_a_bad_name_or_value(monkeypatch):
    monkeypatch.setenv("RAG_ANSWR__MIN_WORDS", "8")
    with pytest.raises(ConfigError, match=r"RAG_ANSWR__MIN_WORDS: no tunable group 'answr'; the groups are answer, "):
        Config.from_env()
    monkeypatch.delenv("RAG_ANSWR__MIN_WORDS")
    monkeypatch.setenv("RAG_ANSWER__MIN_WORD", "8")
    with pytest.raises(ConfigError, match=r"AnswerTunables has no field 'min_word'; its fields are min_words, voters"):
        Config.from_env()
    monkeypatch.delenv("RAG_ANSWER__MIN_WORD")
    monkeypatch.setenv("RAG_ANSWER__MIN_WORDS", "many")
    with pytest.raises(ConfigError, match="RAG_ANSWER__MIN_WORDS='many' is not a valid int"):
        Config.from_env()


def test_with_sets_one_tunable_and_keeps_the_rest():
    cfg = Config().with_(**{"answer.min_words": 8, "answer.voters": 4, "retrieve.common_share": 0.5, "top_k": 5})
    assert cfg.answer == AnswerTunables(min_words=8, voters=4)
    assert cfg.retrieve.common_share == 0.5 and cfg.top_k == 5 and cfg.grounding == GroundingTunables()
    with pytest.raises(ConfigError, match="no tunable group 'fusion'"):
        Config().with_(**{"fusion.rrf_k": 30})


def test_eval_override_parse():
    assert parse_overrides("answer.min_words=8,retrieve.common_share=0.25,top_k=6,generation.abstain_gate=off") == {
        "answer.min_words": 8, "retrieve.common_share": 0.25, "top_k": 6, "generation.abstain_gate": False}
    (wider,) = resolve(["wider:answer.min_words=8,rrf_k=30"])
    assert wider.overrides == {"answer.min_words": 8, "rrf_k": 30}
    cfg = Config().with_(**wider.overrides)  # what the eval runner does with them
    assert cfg.answer.min_words == 8 and cfg.rrf_k == 30


def test_eval_override_bad_name_names_the_valid_ones():
    with pytest.raises(ConfigError, match="CleaningTunables has no field 'body_words'; its fields are body_min_words"):
        parse_overrides("cleaning.body_words=3")
    with pytest.raises(ConfigError, match="no tunable group 'fusion'; the groups are answer, grounding, generation"):
        parse_overrides("fusion.rrf_k=30")
    with pytest.raises(ConfigError, match=r"bad setting 'answer=3'.*group\.field with a tunable \(answer, grounding"):
        parse_overrides("answer=3")


PAGE = (
    "Home | News | Sport\n\n"
    "Ministers agree a new trade framework\n\n"
    "The two governments agreed on Tuesday to set up a framework for trade in rare earths.\n\n"
    "Officials said the talks would resume in Tokyo next month after a break of two years.\n"
)


def test_a_cleaning_tunable_reaches_the_cleaner():
    # The body lines have 15 and 16 words: prose at the default (12), menus at 20.
    default = clean_page(PAGE)
    assert default and "rare earths" in default[0].text
    assert clean_page(PAGE, tunables=CleaningTunables()) == default
    assert default[0].title == "Ministers agree a new trade framework" and "Home | News" not in default[0].text
    # At 20 words no line is prose: the page is read as a note of short lines, menu and all.
    strict = clean_page(PAGE, tunables=CleaningTunables(body_min_words=20))
    assert strict[0].title == "Home | News | Sport" and strict[0].paragraphs[0] == "Home | News | Sport"


def test_a_retrieval_tunable_reaches_the_followup_rule():
    question = "India Japan trade deal"  # four terms
    assert not is_followup(question)
    assert is_followup(question, RetrievalTunables(followup_max_terms=4))
    assert condense(question, ["Who met in Tokyo?"]) == question
    assert condense(question, ["Who met in Tokyo?"], RetrievalTunables(followup_max_terms=4)) != question


def test_answer_and_grounding_tunables_reach_their_functions():
    from rag.answer.extractive import _noun_after
    from rag.answer.grounding import _supports

    assert _noun_after("of the 299 votes cast") == "votes"  # within the 5 words after the value
    assert _noun_after("of the 299 votes cast", AnswerTunables(focus_window=3)) == ""
    assert _supports("the talks went well", "the talks", coverage=0.6, cosine=0.0) == (
        False, "only 60% of its words are in the closest source sentence")
    assert _supports("the talks went well", "the talks", 0.6, 0.0, GroundingTunables(min_coverage=0.6)) == (True, "")


def test_index_settings_name_the_cleaning_tunables_only_when_changed():
    from types import SimpleNamespace

    from rag.store.indexer import index_settings

    embedder = SimpleNamespace(name="m")
    default = index_settings(Config(), embedder)  # type: ignore[arg-type]
    assert "cleaning" not in default  # indexes built before the tunables existed stay valid
    changed = index_settings(Config().with_(**{"cleaning.body_min_words": 11}), embedder)  # type: ignore[arg-type]
    assert changed["cleaning"]["body_min_words"] == 11 and changed != default
    wider = index_settings(Config().with_(**{"indexing.max_segment_words": 40}), embedder)  # type: ignore[arg-type]
    assert wider["indexing"]["max_segment_words"] == 40 and "cleaning" not in wider


def test_an_indexing_tunable_reaches_the_segmenter():
    from rag.text.sentences import segment_spans

    text = ("The two governments agreed on Tuesday to set up a framework for trade in rare earths, "
            "with media reporting that Tokyo had offered to help India develop fighter jets of its own.")
    assert len(text.split()) == 32
    assert len(segment_spans(text, 0, len(text))) == 2  # longer than 24 words: clause by clause
    assert segment_spans(text, 0, len(text), IndexingTunables(max_segment_words=40)) == [(0, len(text))]
