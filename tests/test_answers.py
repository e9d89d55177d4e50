"""Answers from the seed corpus: the facts, the right story cited, abstention, follow-ups."""

import pytest

pytestmark = pytest.mark.slow  # the embedding model and a Chroma index over the seeds

MAIN = "000_c0363eb08f2c74e0"
MAIN_TITLE = "India seeks deeper defence ties with Japan amid push for strategic self-reliance"


def cited_docs(answer):
    return {c.doc_id for c in answer.citations}


def test_japan_offer_names_jets_tanks_engines_and_cites_the_story(seed_pipeline):
    a = seed_pipeline.ask("What did Japan offer India?")
    assert not a.abstained
    text = a.text.lower()
    for fact in ("fighter jets", "tanks", "engines"):
        assert fact in text
    assert MAIN_TITLE in [c.title for c in a.citations]
    assert "[1]" in a.text


def test_citations_point_at_exact_spans(seed_pipeline):
    a = seed_pipeline.ask("What did Japan offer India?")
    for c in a.citations:
        assert f"[{c.n}]" in a.text
        doc_text = _doc_text(seed_pipeline, c.doc_id)
        assert doc_text[c.start : c.end] == c.snippet
        # The context is the retrieved passage, an exact span too, holding most of the sentence.
        context_end = c.context_start + len(c.context)
        assert doc_text[c.context_start : context_end] == c.context
        assert min(c.end, context_end) - max(c.start, c.context_start) >= 0.5 * len(c.snippet)


def _doc_text(pipeline, doc_id):
    from rag.ingest.loaders import load_file

    doc = pipeline.snapshot.documents[doc_id]
    return next(d.text for d in load_file(pipeline.config.seeds_dir / doc.source, pipeline.config.seeds_dir) if d.doc_id == doc_id)


@pytest.mark.parametrize(
    "question, facts, doc",
    [
        ("How many people were killed in the Kashmir attack, and on what date?", ["26", "April 22"], MAIN),
        ("Which countries are Japan's partners in the Global Combat Air Program?", ["Britain", "Italy"], "001_ce83d2ce5fc7c134"),
        ("What defence spending target has Japan set, and for which year?", ["2%", "2027"], "002_792eeee021a370cc"),
        ("Who did Rajnath Singh meet from Japan?", ["Nakatani"], None),
        # Known failure of the fitted ranker (strict: the suite says so when it starts passing): it
        # prefers the sentence on earlier summits ("since 2019, when France invited him to Biarritz").
        pytest.param("Where will the G7 summit Modi attends take place?", ["Canada"], f"{MAIN}-2",
                     marks=pytest.mark.xfail(strict=True, reason="ranks the sentence on past summits first")),
        ("What did the heavy industries minister say about Tesla's plans?", ["showrooms"], f"{MAIN}-3"),
    ],
)
def test_answers_hold_the_facts_and_cite_the_right_story(seed_pipeline, question, facts, doc):
    a = seed_pipeline.ask(question)
    assert not a.abstained, a.notes
    for fact in facts:
        assert fact.lower() in a.text.lower(), (fact, a.text)
    if doc:
        assert doc in cited_docs(a), a.citations


def test_a_fact_reported_by_several_articles_is_stated_once(seed_pipeline):
    a = seed_pipeline.ask("Which fighter programme did Japan invite India to join?")
    assert a.text.count("GCAP") + a.text.count("Global Combat Air") >= 1
    snippets = [c.snippet for c in a.citations]
    assert len(snippets) == len(set(snippets)) <= 3


@pytest.mark.parametrize(
    "question",
    [
        # Answered with a count of tourists until the decision model learnt answerability (2026-12-04).
        "How many fighter jets will Japan sell to India?",
        # Known failure (strict xfail): "luxury vehicles priced above US$40,000" is an amount beside
        # "priced" and "India"; nothing in the features says it is a threshold, not the price.
        pytest.param("What is the price of a Tesla Model Y in India?",
                     marks=pytest.mark.xfail(strict=True, reason="takes a tariff threshold for the price")),
        "Who won the 2022 FIFA World Cup?",
        "What did Australia's prime minister Anthony Albanese say about the deal?",
        "How much will the GCAP fighter programme cost?",
    ],
)
def test_abstains_when_the_articles_do_not_answer(seed_pipeline, question):
    a = seed_pipeline.ask(question)
    assert a.abstained, a.text
    assert a.citations == []
    assert a.passages, "the closest passages are still returned"
    assert "don't answer" in a.text


def test_followup_uses_the_earlier_question(seed_pipeline):
    first = "What did Japan offer to help India develop?"
    a = seed_pipeline.ask("And what about engines?", history=[first])
    assert a.query != a.question and "Japan" in a.query
    assert not a.abstained
    assert "engine" in a.text.lower()


def test_history_accepts_chat_messages_and_pairs(seed_pipeline):
    messages = [{"role": "user", "content": "Who is Japan's defence minister?"}, {"role": "assistant", "content": "Gen Nakatani [1]."}]
    a = seed_pipeline.ask("Who did he meet in India?", history=messages)
    # Only earlier *questions* shape the search, never earlier answers.
    assert "Japan's defence minister" in a.query and "Nakatani" not in a.query
    b = seed_pipeline.ask("Who did he meet in India?", history=[("Who is Japan's defence minister?", "Gen Nakatani")])
    assert a.query == b.query
    assert "Rajnath Singh" in a.text
