"""Hostile questions and histories through the Python API, the CLI and the app's /ask: each gets an
answer, an abstention or one clear line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from test_app import content, served  # noqa: F401  (the real app on a free port, module-scoped)

from rag.errors import QuestionError
from rag.ingest.loaders import corpus_files, load_file
from rag.schema import Answer
from rag.text.sanitize import clean_text, foreign_script, has_words

ROOT = Path(__file__).resolve().parent.parent
JAPAN = "What did Japan offer India?"

# question -> None when it must be answered (or abstained from), else words of its one-line message
QUESTIONS = {
    "": "empty",
    "  \n\t  ": "empty",
    "?!...;": "no words",
    "…—!? 😀🤝": "no words",
    "\u200b\u200d\ufeff": "no words",  # zero-width characters only
    "\x00\x00\x00": "empty",
    "x" * 100_000: "100,000 characters long; the limit is 1,000",
    "What did\x00 Japan offer\x07 India?\x1b[31m": None,
    "What did \ud800Japan offer India?": None,  # a lone surrogate (JSON can carry one)
    "🇯🇵🤝🇮🇳 What did Japan offer India? 日本": None,
    "Что Япония предложила Индии?": "mostly in Cyrillic letters",
    "日本はインドに何を提供しましたか？": "ask in English",
    "ماذا عرضت اليابان على الهند؟": "mostly in Arabic letters",
}


def doc_texts(pipeline) -> dict[str, str]:
    """Every indexed story's text, parsed again from its file (citations index into it)."""
    seeds = pipeline.config.seeds_dir
    return {d.doc_id: d.text for path in corpus_files(seeds) for d in load_file(path, seeds)}


def well_formed(answer: Answer, documents: dict[str, str]) -> None:
    """An answer or an abstention whose citations point at real spans of the indexed text."""
    assert isinstance(answer.text, str) and answer.text.strip()
    assert answer.abstained or answer.citations
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert documents[c.doc_id][c.start:c.end] == c.snippet


def test_clean_text_drops_controls_and_surrogates_keeps_scripts():
    assert clean_text("a\x00b\x07c\x1bd\x7fe") == "a b c d e"
    assert clean_text("x\ud800y") == "xy"
    assert clean_text("line\nnext\ttab 日本 😀") == "line\nnext\ttab 日本 😀"
    assert not has_words("?!… 😀 —") and has_words("G7?")
    assert foreign_script("Что Япония предложила Индии?") == "CYRILLIC"
    assert foreign_script("What did 日本 offer India?") == ""
    assert foreign_script("1234 ?") == ""


@pytest.mark.slow
@pytest.mark.parametrize("question", list(QUESTIONS), ids=range(len(QUESTIONS)))
def test_api(seed_pipeline, question):
    expected = QUESTIONS[question]
    texts = doc_texts(seed_pipeline)
    if expected is None:
        well_formed(seed_pipeline.ask(question), texts)
        *_, final = seed_pipeline.ask_stream(question)
        well_formed(final, texts)
    else:
        with pytest.raises(QuestionError, match=expected) as err:
            seed_pipeline.ask(question)
        assert "\n" not in str(err.value)


@pytest.mark.slow
def test_long_and_odd_histories(seed_pipeline):
    limit = seed_pipeline.config.max_question_chars
    texts = doc_texts(seed_pipeline)
    # 1,000 earlier follow-ups, each at the length limit: the query stays bounded (it once reached
    # a million characters, which spaCy refused mid-answer).
    history = [f"And what about that {i}? " + "y" * limit for i in range(1000)]
    answer = seed_pipeline.ask("And what about engines?", history)
    well_formed(answer, texts)
    assert len(answer.query) <= (seed_pipeline.config.max_history_turns + 1) * (limit + 2)
    # Chat messages, pairs and junk mixed in a list: what is not a question is skipped.
    mixed = [{"role": "user", "content": JAPAN}, {"role": "assistant", "content": "x"}, [None], 3.5, {"content": 5}]
    assert JAPAN in seed_pipeline.ask("And what about engines?", mixed).query
    assert JAPAN in seed_pipeline.ask("And what about engines?", JAPAN).query  # one question as text
    for bad in ({"q": JAPAN}, 5, object()):
        with pytest.raises(QuestionError, match="history must be a list of earlier questions"):
            seed_pipeline.ask("And what about engines?", bad)


@pytest.fixture(scope="module")
def client(served):  # noqa: F811
    return Client(served[0], verbose=False)


@pytest.mark.slow
def test_gradio_ask(client, served):  # noqa: F811
    texts = doc_texts(served[1])
    for question, expected in QUESTIONS.items():
        if "\ud800" in question:  # gradio_client encodes strict UTF-8; the API test covers it
            continue
        if expected is None:
            text, data = client.predict(question, [], api_name="/ask")
            assert text == data["text"] and text.strip()
            assert data["abstained"] or data["citations"]
            for c in data["citations"]:
                assert texts[c["doc_id"]][c["start"]:c["end"]] == c["snippet"]
        else:
            with pytest.raises(AppError, match=expected) as err:
                client.predict(question, [], api_name="/ask")
            assert "Traceback" not in str(err.value)
    _, data = client.predict("And what about engines?", ["And that?"] * 1000, api_name="/ask")
    assert data["text"]
    for bad in ({"q": JAPAN}, 5, "{\"a\": 1}"):
        with pytest.raises(AppError, match="history must be a list"):
            client.predict("And what about engines?", bad, api_name="/ask")
    # The chat endpoint shows the message in the chat, never a traceback.
    chat, _ = client.predict("?!...", [], api_name="/chat")
    shown = content(chat[-1])
    assert "no words" in shown and "Traceback" not in shown


@pytest.mark.slow
def test_cli(tmp_path):
    env = {**os.environ, "RAG_SEEDS_DIR": str(ROOT / "seeds"), "RAG_INDEX_DIR": str(tmp_path / "index")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", "ask", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    # Refused before any model loads: exit 2 and one line on stderr, nothing on stdout.
    for question, expected in QUESTIONS.items():
        if expected is None or "\x00" in question or "\ud800" in question:  # argv cannot carry NUL or surrogates
            continue
        res = run(question)
        assert res.returncode == 2 and res.stdout == "", (question[:40], res.stderr)
        line = res.stderr.strip()
        assert "\n" not in line and line.startswith("error: ") and expected in line
    # Control characters, mixed scripts and a long history: answered, exit 0.
    res = run("What did Japan\x07 offer\x1b India? 🇯🇵", *[a for _ in range(1000) for a in ("--history", "And that?")])
    assert res.returncode == 0, res.stderr
    assert "Sources:" in res.stdout or "Closest passages:" in res.stdout
