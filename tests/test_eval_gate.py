"""Quality gate: the default configuration on the seed gold set must stay above measured floors.

Runs the real evaluation in-process: the bundled MiniLM, a temp Chroma index over a copy of the
seeds, all 98 gold questions (follow-ups with their history). ~15 s after the model is loaded.
Floors and their rationale: eval/README.md, "Quality gate". Raise them when the product improves.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from conftest import SEEDS

from rag.eval import CONFIGS, load_gold, run_config
from rag.eval.gold import GOLD
from rag.eval.metrics import aggregate

# Re-based at commit 30d732e (see eval/README.md, "Quality gate"): the answer step is now fitted on
# the dev questions; the earlier floors measured hand rules partly drawn from gold questions' wording.
# Measured figures minus about two answerable questions (0.012 each) and one unanswerable (0.059).
FLOORS = {
    "hit@1": 0.74,
    "hit@5": 0.93,
    "mrr": 0.82,
    "fact_recall": 0.68,
    "all_facts": 0.63,
    "gold_cited": 0.86,
    "cit_precision": 0.55,
    "abstain_recall": 0.58,  # raised at 8fae1e3 (the verb check): 0.647 measured, minus one near-miss
    "abstain_precision": 0.75,
    # The direct answer (Answer.short) on the 50 single-fact questions: 0.36 measured at ac534cc,
    # minus two questions (0.02 each). eval/README.md, "Quality gate".
    "short_exact": 0.32,
}
CEILINGS = {
    "false_refusal": 0.065,  # answerable questions refused
    "latency_p95": 3.0,  # seconds; loose, the machine is shared: catches only a gross slowdown
    "errors": 0,
}


@pytest.fixture(scope="module")
def gate_result(tmp_path_factory, embedder):
    tmp = tmp_path_factory.mktemp("gate")
    seeds = tmp / "seeds"
    shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("uploads"))
    result = run_config(CONFIGS["default"], load_gold(GOLD), seeds_dir=seeds, workdir=tmp / "run",
                        embedder=embedder, progress=False)
    assert result.status == "ok", result.note
    return result


def _failures(result) -> str:
    lines = [f"{s.id} ({s.type}): {'; '.join(s.reasons)}" for s in result.scores if not s.passed]
    return "failing questions:\n" + "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("metric, floor", sorted(FLOORS.items()))
def test_default_configuration_stays_above_its_floor(gate_result, metric, floor):
    value = gate_result.overall[metric]
    assert value is not None and value >= floor, f"{metric} = {value} < floor {floor}\n{_failures(gate_result)}"


@pytest.mark.slow
@pytest.mark.parametrize("metric, ceiling", sorted(CEILINGS.items()))
def test_default_configuration_stays_below_its_ceiling(gate_result, metric, ceiling):
    value = gate_result.overall[metric]
    assert value is not None and value <= ceiling, f"{metric} = {value} > ceiling {ceiling}\n{_failures(gate_result)}"


@pytest.mark.slow
def test_every_gold_question_was_asked_with_its_history(gate_result):
    gold = load_gold(GOLD)
    assert [s.id for s in gate_result.scores] == [g.id for g in gold]
    assert gate_result.overall["answerable"] == sum(g.answerable for g in gold)


# -- the same answer step among 2,225 real BBC stories --------------------------------------------
# The seed pages mixed into the BBC News corpus (read from the shared copy beside the repository,
# never committed: see rag/eval/haystack.py), asked the seed gold set and the BBC test questions.
# Indexing the 2,233 stories from scratch takes about 4 minutes on 2 cores.
# Floors measured at the commit named in eval/README.md ("Quality gate"), minus about two
# questions' worth of margin.
# Raised at b8c876a (the signed decision model that learns answerability, eval/README.md):
# measured minus two answerable questions and one unanswerable, never below the earlier floor.
# Abstention raised again at 8fae1e3 (the verb check; 0.529 and 0.520 measured, minus one near-miss).
HAYSTACK_FLOORS = {
    "gold-bbc": {"hit@5": 0.93, "fact_recall": 0.64, "all_facts": 0.60, "gold_cited": 0.87, "abstain_recall": 0.47,
                 "short_exact": 0.30},  # short answers: 50 single-fact questions, 0.34 measured at ac534cc
    # The test half's first 86 questions (ids a-c), with the floors measured on them before it grew.
    "bbc-test-first86": {"hit@5": 0.96, "fact_recall": 0.72, "all_facts": 0.70, "gold_cited": 0.91,
                         "abstain_recall": 0.48, "short_exact": 0.50},  # 55 single-fact questions, 0.545 measured
    # All 234 since 629a7ee (148 questions by new writers): measured at 629a7ee (fact recall 0.693,
    # all facts 0.667, gold cited 0.867, abstention 0.417, refused 0.113, short 0.515 on 134
    # single-fact questions, hit@5 1.0) minus two answerable questions and one unanswerable.
    "bbc-test": {"hit@5": 0.98, "fact_recall": 0.68, "all_facts": 0.65, "gold_cited": 0.85, "abstain_recall": 0.40,
                 "short_exact": 0.50},
}
HAYSTACK_CEILINGS = {
    "gold-bbc": {"false_refusal": 0.05, "errors": 0},
    "bbc-test-first86": {"false_refusal": 0.09, "errors": 0},
    "bbc-test": {"false_refusal": 0.13, "errors": 0},
}
FIRST_TEST_IDS = ("a", "b", "c")  # the test half's first 86 questions: a..., b..., c...


@pytest.fixture(scope="module")
def haystack_results(tmp_path_factory, embedder):
    from rag.eval import haystack

    articles = haystack.default_articles()
    if not articles.exists():
        pytest.skip(f"BBC articles not found at {articles} (set RAG_BBC_ARTICLES); they cannot ship in the repository")
    tmp = tmp_path_factory.mktemp("haystack")
    corpus = tmp / "corpus"
    haystack.build(SEEDS, articles, corpus)
    sets = {"gold-bbc": load_gold(GOLD), "bbc-test": haystack.load_questions("test")}
    out = {}
    for name, items in sets.items():
        result = run_config(CONFIGS["default"], items, seeds_dir=corpus, workdir=tmp / "run", embedder=embedder,
                            benchmark=name, progress=False)
        assert result.status == "ok", result.note
        out[name] = result
    first = [score for score in out["bbc-test"].scores if score.id.startswith(FIRST_TEST_IDS)]
    assert len(first) == 86
    out["bbc-test-first86"] = dataclasses.replace(out["bbc-test"], scores=first, overall=aggregate(first))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("benchmark, metric, floor", [(b, m, f) for b, fl in HAYSTACK_FLOORS.items() for m, f in fl.items()])
def test_among_real_news_the_default_stays_above_its_floor(haystack_results, benchmark, metric, floor):
    result = haystack_results[benchmark]
    value = result.overall[metric]
    assert value is not None and value >= floor, f"{benchmark} {metric} = {value} < floor {floor}\n{_failures(result)}"


@pytest.mark.slow
@pytest.mark.parametrize("benchmark, metric, ceiling", [(b, m, c) for b, cl in HAYSTACK_CEILINGS.items() for m, c in cl.items()])
def test_among_real_news_the_default_stays_below_its_ceiling(haystack_results, benchmark, metric, ceiling):
    result = haystack_results[benchmark]
    value = result.overall[metric]
    assert value is not None and value <= ceiling, f"{benchmark} {metric} = {value} > {ceiling}\n{_failures(result)}"
