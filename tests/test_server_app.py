"""The Gradio app's API (`/ask`, `/upload`, `/documents`, `/remove`) over the embedded store and over
a Chroma server; in server mode the app runs as its own process (app.py) beside this test's
pipeline, so two processes share the server and each must see the other's writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chroma_server import free_port
from conftest import SHARED_TEXT_CACHE, make_config, server_config
from gradio_client import Client, handle_file
from test_app import block_network, load_app_module
from test_server import ARTICLE, JAPAN, QUILLON

from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def start_app_process(env: dict, port: int, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {log.read_text()[-2000:]}")
        try:
            Client(f"http://127.0.0.1:{port}", verbose=False)
            return proc
        except Exception:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app.py did not answer in 240 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module", params=["embedded", "server"])
def app(request, tmp_path_factory, embedder, chroma_server):
    """(mode, url, the other pipeline or None): the app over the seeds, embedded in-process, or
    app.py as a separate process on the server with this process's pipeline beside it."""
    tmp = tmp_path_factory.mktemp(f"app-{request.param}")
    port = free_port()
    if request.param == "embedded":
        module = load_app_module()
        with pytest.MonkeyPatch.context() as mp:
            block_network(mp)
            config = make_config(tmp, port=port)
            demo = module.create_app(Pipeline(config, embedder=embedder).warm_up())
            _, url, _ = module.launch(demo, config, prevent_thread_lock=True, quiet=True)
        yield "embedded", url, None
        demo.close()
        return
    # The test's pipeline builds the index; the app starts from the server alone (an index folder
    # of its own, empty, and a seeds copy of its own).
    here = Pipeline(server_config(tmp / "here", chroma_server), embedder=embedder).warm_up()
    seeds = tmp / "app-seeds"
    seeds.mkdir()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "RAG_CHROMA_URL": chroma_server.url,
           "RAG_COLLECTION": here.config.collection, "RAG_SEEDS_DIR": str(seeds),
           "RAG_INDEX_DIR": str(tmp / "app-index"), "RAG_TEXT_CACHE_DIR": str(SHARED_TEXT_CACHE)}
    proc = start_app_process(env, port, tmp / "app.log")
    try:
        yield "server", f"http://127.0.0.1:{port}/", here
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cited(answer: dict, doc_id: str) -> bool:
    return any(c["doc_id"] == doc_id for c in answer["citations"])


def test_ask(app):
    _, url, _ = app
    text, answer = Client(url, verbose=False).predict(JAPAN, [], api_name="/ask")
    assert not answer["abstained"] and cited(answer, "000_c0363eb08f2c74e0") and "[1]" in text


def test_upload_and_remove_through_the_app(app, tmp_path):
    mode, url, other = app
    client = Client(url, verbose=False)
    path = tmp_path / "quillon.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    client.predict(handle_file(str(path)), api_name="/upload")
    _, answer = client.predict(QUILLON, [], api_name="/ask")
    assert cited(answer, "uploads_quillon") and "12 million euros" in answer["text"]
    if other is not None:  # the other process answers it at its next question, BM25 included
        mine = other.ask(QUILLON)
        assert any(c.doc_id == "uploads_quillon" for c in mine.citations)
        assert any(x.chunk.doc_id == "uploads_quillon" and x.bm25_rank for x in mine.passages)
    client.predict("uploads/quillon.txt", api_name="/remove")
    _, answer = client.predict(QUILLON, [], api_name="/ask")
    assert not cited(answer, "uploads_quillon")
    assert all(d["source"] != "uploads/quillon.txt" for d in client.predict(api_name="/documents"))
    if other is not None:
        assert "uploads_quillon" not in {d.doc_id for d in other.documents()}


def test_the_app_follows_writes_made_by_another_process(app):
    mode, url, other = app
    if other is None:
        pytest.skip("one process only in embedded mode")
    client = Client(url, verbose=False)
    other.upload("harbour.txt", ARTICLE.encode())
    assert any(d["source"] == "uploads/harbour.txt" for d in client.predict(api_name="/documents"))
    _, answer = client.predict(QUILLON, [], api_name="/ask")
    assert cited(answer, "uploads_harbour")
    assert any(p["doc_id"] == "uploads_harbour" for p in answer["passages"])
    other.remove("uploads/harbour.txt")
    _, answer = client.predict(QUILLON, [], api_name="/ask")
    assert not cited(answer, "uploads_harbour")
    assert all(d["source"] != "uploads/harbour.txt" for d in client.predict(api_name="/documents"))
