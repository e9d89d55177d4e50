"""The evaluation's scoring rules, on hand-made records: fast, no model, no index."""

from __future__ import annotations

import json

import pytest

from rag.errors import ConfigError
from rag.eval import configs, report, rgb
from rag.eval.configs import EvalConfig
from rag.eval.gold import GoldItem, load_gold
from rag.eval.metrics import (
    EvidenceLocator,
    Retrieved,
    SystemOutput,
    aggregate,
    contains_words,
    fact_present,
    normalised_match,
    overlaps,
    percentile,
    score_question,
    token_f1,
)
from rag.eval.runner import RunResult

EVIDENCE = "Tokyo had offered to help India develop fighter jets and tanks, including through potential exports of engines"
DOC = f"Some intro text here. Japanese media reported that {EVIDENCE} and other key components. More text follows."


def item(**kw) -> GoldItem:
    base = dict(
        id="q1", question="What did Japan offer?", answer="Help to develop fighter jets and tanks.",
        facts=[["fighter jet"], ["tank"]], doc_ids=["main"], evidence=[EVIDENCE], type="what",
    )
    base.update(kw)
    return GoldItem(**base)


def out(text="", abstained=False, passages=(), citations=(), seconds=0.05, short="") -> SystemOutput:
    return SystemOutput(text, abstained, list(passages), list(citations), seconds, short=short)


LOCATOR = EvidenceLocator({"main": DOC, "other": "Nothing relevant is said in this other story at all."})


# -- text matching ----------------------------------------------------------------------------
def test_matching_ignores_case_whitespace_and_non_breaking_spaces():
    assert contains_words("He said TOKYO\u00a0had   offered\nto help.", "tokyo had offered to help")
    assert not contains_words("Tokyo had not offered", "Tokyo had offered")


def test_a_passage_holding_the_evidence_overlaps_it():
    assert overlaps(EVIDENCE, DOC)


def test_a_chunk_boundary_cutting_the_evidence_still_counts_when_most_of_it_is_there():
    first_two_thirds = " ".join(EVIDENCE.split()[:12])
    assert overlaps(EVIDENCE, f"Earlier sentence. {first_two_thirds}")


def test_a_few_shared_words_are_not_an_overlap():
    assert not overlaps(EVIDENCE, "India develop fighter jets on its own, officials say, without outside help or money.")
    assert not overlaps(EVIDENCE, " ".join(EVIDENCE.split()[:4]) + " something else entirely different here")


def test_evidence_is_located_only_in_the_indexed_text():
    assert LOCATOR.located(EVIDENCE)
    assert not LOCATOR.located("Sudeep Kumar wrote this analysis")


def test_fact_alternatives_are_case_insensitive_substrings_and_citation_markers_do_not_split_them():
    assert fact_present("They agreed on a new Consultation Framework [1].", ["security consultation", "consultation framework"])
    assert fact_present("It will develop fighter [1] jets.", ["fighter jets"])
    assert not fact_present("They agreed on talks.", ["consultation framework"])


def test_token_f1_follows_squad():
    assert token_f1("The cat sat.", "the cat sat") == 1.0
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("the cat sat", "a cat sat on mats") == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_normalised_match_needs_the_whole_accepted_answer():
    assert normalised_match("It was held in Tampa, Florida [1].", ["Tampa, Florida"])
    assert normalised_match("TAMPA FLORIDA hosted it", ["Tampa, Florida"])
    assert not normalised_match("It was held in Tampa.", ["Tampa, Florida"])
    assert not normalised_match("Tampanians", ["Tampa"])


def test_percentile_interpolates_like_numpy():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([float(i) for i in range(1, 21)], 95) == pytest.approx(19.05)
    assert percentile([], 50) is None


# -- one question -----------------------------------------------------------------------------
def test_rank_is_the_first_passage_holding_the_evidence_not_just_the_gold_document():
    passages = [Retrieved("main", "Some intro text here."), Retrieved("other", "x y z"), Retrieved("main", DOC)]
    s = score_question(item(), out("Fighter jets and tanks [1].", passages=passages), LOCATOR)
    assert s.rank == 3 and s.matched_by == "evidence"


def test_evidence_missing_from_the_indexed_text_falls_back_to_the_gold_document():
    gold = item(evidence=["Sudeep Kumar"], doc_ids=["main"])
    s = score_question(gold, out("x", passages=[Retrieved("other", "a"), Retrieved("main", "b")]), LOCATOR)
    assert s.rank == 2 and s.matched_by == "doc_id" and s.evidence_missing == ["Sudeep Kumar"]


def test_alias_maps_stories_to_the_file_the_baseline_indexed():
    gold = item(evidence=[], doc_ids=["000_x-2"])
    s = score_question(gold, out("x", passages=[Retrieved("000_x", "whole file")]), LOCATOR, alias=lambda d: d.split("-")[0])
    assert s.rank == 1


def test_fact_recall_counts_each_required_fact():
    s = score_question(item(), out("Japan offered fighter jets [1]."), LOCATOR)
    assert s.facts == [True, False] and s.fact_recall == 0.5 and s.all_facts is False
    assert any("missing fact" in r and "tank" in r for r in s.reasons)


def test_a_refusal_scores_no_facts_even_if_its_wording_contains_one():
    s = score_question(item(facts=[["articles"]]), out("The articles don't answer this.", abstained=True), LOCATOR)
    assert s.fact_recall == 0.0 and "wrongly refused" in s.reasons


def test_citation_precision_counts_evidence_and_gold_document_facts():
    cites = [
        Retrieved("other", EVIDENCE + "."),  # the evidence itself, syndicated elsewhere: supported
        Retrieved("main", "Tanks were mentioned too."),  # gold document and a required fact: supported
        Retrieved("other", "Tanks are heavy."),  # a fact, but not from a gold document: unsupported
        Retrieved("main", "Nothing useful here at all."),  # gold document, no fact: unsupported
    ]
    s = score_question(item(), out("Fighter jets and tanks [1][2][3][4].", citations=cites), LOCATOR)
    assert (s.supported_citations, s.citations) == (2, 4) and s.cit_precision == 0.5
    assert s.gold_cited is True
    assert s.unsupported_citations == ["Tanks are heavy.", "Nothing useful here at all."]


def test_the_short_answer_is_scored_on_single_fact_questions_only():
    one = item(facts=[["fighter jets", "fighter jet"]])
    right = score_question(one, out("Japan offered fighter jets [1].", short="fighter jets"), LOCATOR)
    assert right.extra == {"short_exact": 1.0, "short_given": 1.0}
    wrong = score_question(one, out("Japan offered fighter jets and India tanks [1].", short="India"), LOCATOR)
    assert wrong.extra == {"short_exact": 0.0, "short_given": 1.0}
    refused = score_question(one, out("The articles don't answer this.", abstained=True, short="fighter jets"), LOCATOR)
    assert refused.extra == {"short_exact": 0.0, "short_given": 0.0}
    # Two facts: no one value states both, so the question has no short-answer figures.
    assert score_question(item(), out("Fighter jets and tanks [1].", short="tanks"), LOCATOR).extra == {}
    assert aggregate([right, wrong, score_question(item(), out("x"), LOCATOR)])["short_exact"] == 0.5
    # The report shows the direct answer given (none for a refusal) beside the answer text.
    from rag.eval.report import failure_details

    assert (wrong.short, refused.short) == ("India", "")
    wrong.reasons.append("missing facts")
    assert "  - direct answer: India\n  - answer: Japan offered" in failure_details([wrong])


def test_answering_an_unanswerable_question_is_a_failure_and_refusing_it_passes():
    gold = item(facts=[], doc_ids=[], evidence=[], type="unanswerable", answerable=False)
    assert score_question(gold, out("It cost $5 billion [1]."), LOCATOR).reasons == ["answered an unanswerable question"]
    refused = score_question(gold, out("The articles don't answer this.", abstained=True), LOCATOR)
    assert refused.passed and refused.rank is None and refused.fact_recall is None


# -- many questions ---------------------------------------------------------------------------
def _scores():
    hit1 = [Retrieved("main", DOC)]
    hit3 = [Retrieved("other", "a"), Retrieved("other", "b"), Retrieved("main", DOC)]
    unans = item(id="u", facts=[], doc_ids=[], evidence=[], answerable=False)
    return [
        score_question(item(id="a"), out("fighter jets and tanks", passages=hit1, seconds=0.1), LOCATOR),
        score_question(item(id="b"), out("fighter jets", passages=hit3, seconds=0.2), LOCATOR),
        score_question(item(id="c"), out("no", abstained=True, seconds=0.3), LOCATOR),  # wrongly refused
        score_question(unans, out("refused", abstained=True, seconds=0.4), LOCATOR),
        score_question(unans, out("invented", seconds=0.5), LOCATOR),
    ]


def test_aggregate_figures():
    o = aggregate(_scores())
    assert (o["questions"], o["answerable"], o["unanswerable"]) == (5, 3, 2)
    assert o["hit@1"] == pytest.approx(1 / 3) and o["hit@3"] == pytest.approx(2 / 3)
    assert o["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert o["fact_recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert o["all_facts"] == pytest.approx(1 / 3)
    assert o["abstain_recall"] == 0.5  # one of two unanswerable refused
    assert o["abstain_precision"] == 0.5  # one of two refusals was right
    assert o["false_refusal"] == pytest.approx(1 / 3)
    assert o["latency_p50"] == pytest.approx(0.3)
    assert o["passed"] == pytest.approx(2 / 5)  # a (all good) and the refused unanswerable


def test_aggregate_says_n_a_when_nothing_was_refused():
    o = aggregate([score_question(item(), out("fighter jets and tanks"), LOCATOR)])
    assert o["abstain_precision"] is None and o["abstain_recall"] is None


# -- RGB, configurations, report --------------------------------------------------------------
def test_rgb_exact_match_requires_every_answer_entry():
    q = GoldItem(id="r", question="?", answer="Norway", facts=[["Norway"]], doc_ids=["p"])
    assert rgb.extra_score(q, out("Norway won the most medals."))["exact_match"] == 1.0
    assert rgb.extra_score(q, out("Norway won.", abstained=True))["exact_match"] == 0.0


def test_rgb_exact_match_is_scored_on_the_short_answer_when_there_is_one():
    q = GoldItem(id="r", question="?", answer="Norway", facts=[["Norway"]], doc_ids=["p"])
    right = SystemOutput(text="Norway and Sweden won medals [1].", abstained=False, short="Norway")
    wrong = SystemOutput(text="Norway and Sweden won medals [1].", abstained=False, short="Sweden")
    assert rgb.extra_score(q, right) == {"exact_match": 1.0, "short_exact": 1.0, "short_given": 1.0}
    assert rgb.extra_score(q, wrong) == {"exact_match": 0.0, "short_exact": 0.0, "short_given": 1.0}


def test_rgb_load_turns_answers_into_required_facts(tmp_path):
    (tmp_path / "en_fact_corpus.jsonl").write_text(json.dumps({"pid": "p1", "text": "t"}) + "\n")
    (tmp_path / "en_fact_queries.jsonl").write_text(
        json.dumps({"id": 3, "query": "When?", "answers": [["May 1", "1 May"]], "gold_pids": ["p1"]}) + "\n"
    )
    passages, items = rgb.load(tmp_path)
    assert passages == [{"pid": "p1", "text": "t"}]
    assert items[0].id == "rgb003" and items[0].facts == [["May 1", "1 May"]] and items[0].refs == ["May 1", "1 May"]


def test_rgb_corpus_leaves_passages_the_cleaner_rejects_out_of_our_folder_only(tmp_path):
    passages = [
        {"pid": "good", "text": "The game was played on February 7, 2021, at Raymond James Stadium in Tampa, Florida, the home of the Buccaneers."},
        {"pid": "bad", "text": "Date: Thursday, July 29, 2021."},
    ]
    corpus = rgb.write_corpus(passages, tmp_path / "w")
    assert sorted(p.name for p in corpus.all_dir.iterdir()) == ["bad.txt", "good.txt"]
    assert [p.name for p in corpus.clean_dir.iterdir()] == ["good.txt"]
    assert list(corpus.skipped) == ["bad"]


def test_configs_are_data_and_unknown_ones_are_refused():
    dense, adhoc = configs.resolve(["dense", "wide:top_k=8,candidates=40"])
    assert dense.overrides == {"retrieval": "dense"}
    assert adhoc.name == "wide" and adhoc.overrides == {"top_k": 8, "candidates": 40}
    assert configs.resolve(["mymode:answer_mode=mymode"])[0].overrides == {"answer_mode": "mymode"}
    with pytest.raises(ConfigError):
        configs.resolve(["nope"])
    with pytest.raises(ConfigError):
        configs.resolve(["x:not_a_field=1"])
    with pytest.raises(ConfigError):
        configs.resolve(["x:top_k=many"])


def test_gold_files_load_with_their_documented_shape():
    for name in ("gold_qa.jsonl", "dev_qa.jsonl"):
        items = load_gold(f"eval/{name}")
        assert items and all(i.facts or not i.answerable for i in items)
        assert all(i.history for i in items if i.type == "followup")


def _result(name: str, hit5: float, p50: float) -> RunResult:
    r = RunResult("gold", EvalConfig(name, name), "ok", scores=_scores())
    r.overall = {**aggregate(r.scores), "hit@5": hit5, "latency_p50": p50}
    return r


def test_winners_respect_the_direction_of_each_figure():
    lines = report.winners([_result("fast", 0.5, 0.01), _result("good", 0.9, 0.5)])
    assert "- gold / hit@5: **good** (0.900)" in lines
    assert "- gold / p50: **fast** (10 ms)" in lines


def test_report_files_are_written(tmp_path):
    skipped = RunResult("gold", EvalConfig("local", "a model"), "skipped", note="no model here")
    path = report.write([_result("a", 0.5, 0.01), _result("b", 0.9, 0.5), skipped], tmp_path, {"created": "now"})
    text = path.read_text()
    assert "| a |" in text and "**Skipped:** no model here" in text and "failures first" in text
    data = json.loads((tmp_path / "report.json").read_text())
    assert [r["status"] for r in data["runs"]] == ["ok", "ok", "skipped"]
    assert (tmp_path / "metrics_gold.png").stat().st_size > 0 and (tmp_path / "latency_gold.png").exists()


def test_cli_rejects_an_unknown_configuration_before_loading_anything(capsys):
    from rag.eval.cli import main

    assert main(["--config", "nope"]) == 2
    assert "unknown configuration" in capsys.readouterr().err
