"""The benchmark's synthetic corpus: reproducible, nested across sizes, and answerable."""

from rag.bench import corpus as synth
from rag.bench.measure import percentiles
from rag.ingest.loaders import parse


def test_the_corpus_is_seeded_and_each_size_extends_the_smaller_one():
    small, large = synth.generate(20), synth.generate(50)
    assert [a.text for a in small] == [a.text for a in large[:20]]  # cached vectors serve every size
    assert synth.generate(20, seed=8)[0].text != small[0].text
    assert len({a.doc_id for a in synth.generate(2000)}) == 2000


def test_articles_clean_into_one_story_that_holds_every_answer():
    for a in synth.generate(16):
        docs = parse(f"{a.doc_id}.txt", a.text.encode(), ".txt")
        assert [d.doc_id for d in docs] == [a.doc_id]
        assert 900 < len(docs[0].text) < 2200
        for q in a.questions:
            assert q.answer in docs[0].text and q.doc_id == a.doc_id


def test_percentiles_interpolate_like_the_eval():
    p = percentiles([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (p["p50"], p["p95"], p["p99"], p["n"]) == (50.5, 95.05, 99.01, 100)
