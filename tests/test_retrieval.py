"""Paraphrased questions find the right story; the hybrid beats either retriever on its own."""

import pytest

pytestmark = pytest.mark.slow  # the embedding model and Chroma indexes

MAIN = "000_c0363eb08f2c74e0"
PARAPHRASES = [
    ("Which nation did Tokyo propose to assist with building combat aircraft and armoured vehicles?", MAIN),
    ("What incident in Kashmir killed holidaymakers?", MAIN),
    ("What did Canada's new leader invite Modi to?", f"{MAIN}-2"),
    ("Why might the electric carmaker be delaying its Indian factory?", f"{MAIN}-3"),
    ("Which railway crossing did Modi open in the disputed region?", f"{MAIN}-4"),
    ("What worries Tokyo about New Delhi's relationship with Moscow?", "002_792eeee021a370cc"),
    ("Which island territory sees Chinese incursions into Japanese waters?", "001_ce83d2ce5fc7c134"),
    ("What did the two governments say about working together on armoured vehicle power plants?", "003_942864aac65c9d51"),
    ("Which country bailed India out during its 1991 balance of payments crisis?", "004_17a39fbd4911a17a"),
    ("Which bullet train technology will India's high-speed rail use?", "004_17a39fbd4911a17a"),
]


@pytest.mark.parametrize("question, doc", PARAPHRASES)
def test_hybrid_finds_the_story(seed_pipeline, question, doc):
    passages = seed_pipeline.retrieve(question, top_k=3)
    assert doc in [p.chunk.doc_id for p in passages]


def test_passages_carry_both_ranks_and_are_fused(seed_pipeline):
    passages = seed_pipeline.retrieve("Global Combat Air Program Britain Italy", top_k=5)
    assert [p.rank for p in passages] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(passages, passages[1:]))
    assert passages[0].dense_rank is not None and passages[0].bm25_rank is not None


def test_hybrid_is_at_least_as_good_as_each_retriever(seed_pipeline, embedder):
    from rag.pipeline import Pipeline

    def found(mode):
        p = Pipeline(seed_pipeline.config.with_(retrieval=mode), embedder=embedder).warm_up(sync=False)
        return {q for q, doc in PARAPHRASES if doc in [x.chunk.doc_id for x in p.retrieve(q, top_k=3)]}

    hybrid, dense, bm25 = found("hybrid"), found("dense"), found("bm25")
    assert hybrid >= dense | bm25  # fusion loses no story either retriever finds alone
    assert len(hybrid) == len(PARAPHRASES)
    assert len(bm25) < len(PARAPHRASES)  # the paraphrases defeat word matching: the dense side is tested


def test_near_duplicate_chunks_do_not_crowd_the_results(tmp_path, embedder):
    """A story syndicated twice (same text, two files) takes one slot, not two."""
    from rag.pipeline import Pipeline
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    src = cfg.seeds_dir / "002_792eeee021a370cc.txt"
    (cfg.seeds_dir / "syndicated_copy.txt").write_text("Reposted from StratNews\n\n" + src.read_text(encoding="utf-8"), encoding="utf-8")
    p = Pipeline(cfg, embedder=embedder).warm_up()
    texts = [x.chunk.text for x in p.retrieve("Japan defence spending 2% of GDP in 2027", top_k=5)]
    assert len(texts) == len(set(texts))


def test_a_storys_rows_are_read_from_chroma_once_per_snapshot(seed_pipeline, monkeypatch):
    # gather reads each retrieved story's rows and vectors once per snapshot: the same rows and
    # vectors as a direct read of the store, story by story, and no second read for a story kept.
    from rag.retrieve.retrieval import Snapshot, story_rows

    snap = seed_pipeline.snapshot
    fresh = Snapshot(**{f: getattr(snap, f) for f in ("store", "chunks", "row_of", "lexical", "documents",
                                                       "chunks_by_doc", "metadata_terms", "lower_words")})
    docs = list(fresh.documents)[:3]
    reads: list[list[str]] = []
    real = fresh.store.sentence_clauses
    monkeypatch.setattr(fresh.store, "sentence_clauses", lambda ids: reads.append(list(ids)) or real(ids))
    rows, vectors = story_rows(fresh, docs[:2])
    assert reads == [docs[:2]]
    rows3, vectors3 = story_rows(fresh, docs)
    assert reads == [docs[:2], docs[2:]]  # only the story not read yet
    for d in docs:
        direct_rows, direct_vectors = real([d])
        mine = [i for i, r in enumerate(rows3) if r.doc_id == d]
        assert [rows3[i] for i in mine] == direct_rows
        assert (vectors3[mine] == direct_vectors).all()
    assert rows3[: len(rows)] == rows and (vectors3[: len(rows)] == vectors).all()
