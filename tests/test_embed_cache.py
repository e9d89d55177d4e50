"""The embedding cache: exact vectors back by content, per model, and reused by rebuilds."""

import numpy as np
import pytest

from rag.store.embed_cache import EmbeddingCache, embed_with_cache


class CountingEmbedder:
    """Stands in for the model: a vector per text derived from its hash; records each call."""

    dimension = 8

    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts, on_slice=None):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dimension)
        if on_slice:
            on_slice(len(texts))
        return out


def test_progress_counts_every_text_cached_or_not(tmp_path):
    """A progress bar over the texts reaches its total, though cached texts never reach the model."""
    model, cache = CountingEmbedder(), EmbeddingCache(tmp_path / "c.sqlite", "model-a")
    embed_with_cache(model, ["one", "two"], cache)
    steps: list[int] = []
    embed_with_cache(model, ["two", "three", "one", "three"], cache, steps.append)
    assert sum(steps) == 4 and steps[0] == 3  # two cached and a repeat first, then the one new text


def test_vectors_come_back_exactly_and_only_misses_reach_the_model(tmp_path):
    model = CountingEmbedder()
    cache = EmbeddingCache(tmp_path / "c.sqlite", "model-a")
    first, computed = embed_with_cache(model, ["one", "two", "one"], cache)
    assert computed == 2 and model.calls == [["one", "two"]]  # a repeated text is embedded once
    assert np.array_equal(first[0], first[2])

    again, computed = embed_with_cache(model, ["two", "three", "one"], cache)
    assert computed == 1 and model.calls[-1] == ["three"]
    assert again[0].tobytes() == first[1].tobytes() and again[2].tobytes() == first[0].tobytes()

    # Another process (a new connection) sees the same vectors.
    reopened = EmbeddingCache(tmp_path / "c.sqlite", "model-a")
    assert sorted(reopened.get_many(["one", "two", "three", "four"])) == [0, 1, 2]


def test_another_model_never_reuses_the_vectors(tmp_path):
    EmbeddingCache(tmp_path / "c.sqlite", "model-a").put_many(["text"], np.ones((1, 4), dtype=np.float32))
    assert EmbeddingCache(tmp_path / "c.sqlite", "model-b").get_many(["text"]) == {}


def test_the_oldest_rows_go_past_the_size_limit(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite", "m", max_rows=3)
    cache.put_many(["a", "b", "c", "d", "e"], np.ones((5, 2), dtype=np.float32))
    assert len(cache) == 3 and sorted(cache.get_many(["a", "b", "c", "d", "e"])) == [2, 3, 4]


def test_an_unreadable_cache_only_costs_recomputation(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"not a database" * 100)
    model = CountingEmbedder()
    vectors, computed = embed_with_cache(model, ["x", "y"], EmbeddingCache(path, "m"))
    assert computed == 2 and vectors.shape == (2, 8)


@pytest.mark.slow
def test_rebuild_and_unchanged_text_reuse_cached_vectors(tmp_path, embedder, monkeypatch):
    from rag.pipeline import Pipeline
    from tests.conftest import make_config

    p = Pipeline(make_config(tmp_path, text_cache_dir=None), embedder=embedder)  # the default: a cache in the index folder
    first = p.index()
    seen: list[str] = []
    real = p.embedder.embed

    def spy(texts, on_slice=None):
        seen.extend(texts)
        return real(texts, on_slice)

    monkeypatch.setattr(p.embedder, "embed", spy)
    report = p.index(rebuild=True)
    assert report.chunks_embedded == first.chunks and seen == []  # every vector came from the cache
    assert (p.config.index_dir / "embed-cache.sqlite").is_file()
    assert not p.ask("What did Japan offer India?").abstained

    # An edited file: only its new sentences reach the model.
    seen.clear()  # (the question above was embedded too)
    path = p.config.seeds_dir / "002_792eeee021a370cc.txt"
    added = ("Officials from both countries also agreed to hold a new round of talks on joint naval "
             "shipbuilding projects in Yokohama before the end of next year.")
    path.write_text(path.read_text(encoding="utf-8") + f"\n\n{added}\n", encoding="utf-8")
    report = p.index()
    assert report.updated == ["002_792eeee021a370cc.txt"]
    assert seen == [added]


def test_a_quantised_model_is_another_model_for_the_index_and_the_cache():
    from rag.store.embeddings import Embedder

    fp32, int8 = Embedder(), Embedder(quantize=True)
    assert fp32.name != int8.name and fp32.fingerprint != int8.fingerprint


def test_the_bench_baseline_adapter_fits_the_cache(tmp_path):
    """The bench embeds llama-index's side through the same cache; its adapter must take the
    progress callback (a missing parameter failed the 1,000-article bench). The llama-index model
    is replaced by a stand-in here: loading it costs torch, and only the adapter is under test."""
    from rag.bench.baseline import _LlamaEmbedder

    class StandIn:
        def get_text_embedding_batch(self, texts, show_progress=False):
            return [[float(len(t))] * 384 for t in texts]

    done: list[int] = []
    vectors, computed = embed_with_cache(_LlamaEmbedder(StandIn()), ["a", "bb"], EmbeddingCache(tmp_path / "c.sqlite", "m"), done.append)
    assert computed == 2 and vectors.shape == (2, 384) and sum(done) == 2
