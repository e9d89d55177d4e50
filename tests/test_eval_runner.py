"""When a generative configuration counts as unavailable, without loading any model."""

from __future__ import annotations

import pytest

from rag.eval.configs import EvalConfig
from rag.eval.gold import GoldItem
from rag.eval.metrics import SystemOutput
from rag.eval.runner import PipelineSystem, Unavailable
from rag.schema import Fallback

ITEMS = [GoldItem(id=f"q{i}", question=f"question {i}?", answer="a", facts=[["a"]], doc_ids=["d"]) for i in range(6)]
TIMEOUT = "Showing the extractive answer: the local model m.gguf failed (timed out: no complete answer within 30 s)."
UNSUPPORTED = "Showing the extractive answer: none of the local model m.gguf's sentences was supported by the articles."


class Scripted(PipelineSystem):
    """A local-mode system whose answers are given in advance."""

    def __init__(self, tmp_path, outputs):
        super().__init__(EvalConfig("local", "", {"answer_mode": "local"}), tmp_path, tmp_path, embedder=None)
        self.outputs = iter(outputs)

    def ask(self, question, history):
        return next(self.outputs)


def fell_back(note, why):
    return SystemOutput("extractive text", False, mode_used="extractive", notes=[note], fallback=why)


def test_a_backend_failing_on_every_try_makes_the_mode_unavailable(tmp_path):
    system = Scripted(tmp_path, [fell_back(TIMEOUT, Fallback.BACKEND_FAILED)] * 3)
    with pytest.raises(Unavailable, match="timed out"):
        system.probe(ITEMS)


def test_refusals_are_not_tries_because_the_model_was_not_asked(tmp_path):
    refused = SystemOutput("no", True, mode_used="extractive")
    with pytest.raises(Unavailable):
        Scripted(tmp_path, [refused, refused, fell_back(TIMEOUT, Fallback.BACKEND_FAILED), refused, fell_back(TIMEOUT, Fallback.BACKEND_FAILED), fell_back(TIMEOUT, Fallback.BACKEND_FAILED)]).probe(ITEMS)


def test_one_answer_in_the_mode_is_enough(tmp_path):
    Scripted(tmp_path, [fell_back(TIMEOUT, Fallback.BACKEND_FAILED), SystemOutput("model text", False, mode_used="local")]).probe(ITEMS)


def test_a_fallback_for_an_unsupported_answer_is_measured_not_skipped(tmp_path):
    Scripted(tmp_path, [fell_back(UNSUPPORTED, Fallback.UNSUPPORTED)]).probe(ITEMS)


def test_no_answerable_question_to_try_is_unavailable(tmp_path):
    with pytest.raises(Unavailable, match="no answerable question"):
        Scripted(tmp_path, []).probe([])


def test_a_configuration_that_changes_the_embedding_gets_its_own_model(tmp_path):
    """(No model is loaded: an Embedder loads on warm_up.) Sharing one model across
    configurations once made `int8:embed_quantize=true` measure the fp32 model under its name."""
    from rag.store.embeddings import Embedder

    shared = Embedder()
    same = PipelineSystem(EvalConfig("wide", "", {"top_k": 8}), tmp_path, tmp_path / "a", shared)
    int8 = PipelineSystem(EvalConfig("int8", "", {"embed_quantize": True}), tmp_path, tmp_path / "b", shared)
    assert same.embedder is shared
    assert int8.embedder is not shared and int8.embedder.quantize and int8.embedder.name != shared.name
