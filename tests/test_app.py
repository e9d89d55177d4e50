"""The Gradio app end to end: the real app on a free port over a temp copy of the seeds, called
through gradio_client the way an API user would."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path

import pytest
from conftest import NetworkBlocked, make_config
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from rag.pipeline import Pipeline
from rag.web import render

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
JAPAN = "What did Japan offer to help India develop?"
UNANSWERABLE = "Who won the 2022 FIFA World Cup?"
HOW_MANY = "How many tourists were killed in the attack in Kashmir?"

ARTICLE = """Harbour authority approves Quillon expansion
Quillon, 4 June 2029 — The Quillon harbour authority approved a plan to build two deep-water berths for container ships.
The Quillon expansion will cost 12 million euros and is due to open in the spring of 2031, the authority said on Monday.
Local fishermen welcomed the plan but asked for guarantees that their moorings would be kept during the construction work.
"""
# Article text that is also markup: it must reach the page as text, never as elements.
MALICIOUS = """<html><head><title>Zorblax treaty &lt;img src=x onerror=alert(1)&gt; signed</title>
<script>window.__xss = 1</script></head><body><article>
<h1>Zorblax treaty &lt;img src=x onerror=window.__xss=2&gt; signed</h1>
<p>The Zorblax treaty &lt;script&gt;window.__xss=3&lt;/script&gt; was signed in Vilnius on 3 March 2031 by eleven coastal states.</p>
<p>Negotiators said the Zorblax treaty &lt;img src=x onerror=window.__xss=4&gt; caps fishing quotas in the Baltic at 40,000 tonnes a year.</p>
<p>The agreement took nine years to negotiate and was hailed by environmental groups across Europe as a landmark deal.</p>
<img src="x" onerror="window.__xss=5"><script>window.__xss=6</script>
</article></body></html>
"""


def load_app_module():
    """app.py is a script at the repo top, not a package module: load it by path."""
    spec = importlib.util.spec_from_file_location("dossier_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def block_network(mp: pytest.MonkeyPatch) -> None:
    """conftest's rule (loopback only) for the module-scoped server start, which runs outside
    the per-test autouse fixture."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def local(host) -> bool:
        return isinstance(host, str) and (host in {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""} or host.startswith("127."))

    def connect(self, address):
        if isinstance(address, tuple) and not local(address[0]):
            raise NetworkBlocked(f"app start-up tried to reach {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not local(host.decode() if isinstance(host, bytes) else host):
            raise NetworkBlocked(f"app start-up tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    mp.setattr(socket.socket, "connect", connect)
    mp.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """The app over its own seeds copy and index; yields (url, pipeline, temp folder)."""
    tmp = tmp_path_factory.mktemp("app")
    app = load_app_module()
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        config = make_config(tmp, port=free_port())
        pipeline = Pipeline(config, embedder=embedder).warm_up()
        demo = app.create_app(pipeline)
        _, url, _ = app.launch(demo, config, prevent_thread_lock=True, quiet=True)
    yield url, pipeline, tmp
    demo.close()


@pytest.fixture
def client(served) -> Client:
    return Client(served[0], verbose=False)


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / "to_upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_named_endpoints(client):
    assert {"/ask", "/chat", "/upload", "/documents", "/remove"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_answer_with_citations(client, served):
    text, answer = client.predict("What did Japan offer India?", [], api_name="/ask")
    assert not answer["abstained"] and answer["citations"]
    assert text == answer["text"] and "[1]" in text
    documents = served[1].snapshot.documents
    for c in answer["citations"]:
        assert f"[{c['n']}]" in text
        assert c["snippet"] and c["doc_id"] in documents and c["source"] == documents[c["doc_id"]].source


def test_followup_uses_the_previous_question(client):
    _, alone = client.predict("And what about engines?", [], api_name="/ask")
    assert alone["query"] == alone["question"]
    # History as a list and as a JSON array of earlier questions.
    for history in ([JAPAN], json.dumps([JAPAN])):
        text, answer = client.predict("And what about engines?", history, api_name="/ask")
        assert answer["query"] != answer["question"] and "Japan" in answer["query"]
        assert not answer["abstained"] and "engine" in text.lower()


def test_short_answer_in_the_api_and_first_in_bold_in_the_chat(client):
    """Whatever questions the answerer gives a direct answer to: when /ask has one, /chat shows it."""
    for question in (HOW_MANY, "What did Japan offer India?", UNANSWERABLE):
        text, answer = client.predict(question, [], api_name="/ask")
        assert "short" in answer  # the key is always in the JSON, null when there is no direct answer
        chat, _ = client.predict(question, [], api_name="/chat")
        shown = content(chat[-1])
        short = answer["short"]
        if short is None:
            assert "dz-short" not in shown and "<strong>" not in shown
            continue
        assert not answer["abstained"]
        assert set(short) >= {"text", "doc_id", "start", "end", "label", "citation", "source"}
        # Taken from the sentence it cites: offsets into the same document text as the citation's.
        cited = next(c for c in answer["citations"] if c["n"] == short["citation"])
        assert cited["doc_id"] == short["doc_id"] and cited["start"] <= short["start"] < short["end"] <= cited["end"]
        assert cited["snippet"][short["start"] - cited["start"] : short["end"] - cited["start"]] == short["text"]
        # Bold, escaped, with its linked [n], before the quoted sentences.
        bold = f"<strong>{render.esc(short['text'])}</strong>"
        assert bold in shown and shown.index(bold) < shown.index('<p class="dz-text">')
        head = shown[shown.index('<p class="dz-short">') : shown.index('<p class="dz-text">')]
        assert f'">[{short["citation"]}]</a>' in head and 'class="dz-cite" href="#dz-' in head
        assert render.esc(text.split(" [", 1)[0]) in shown[shown.index('<p class="dz-text">') :]


def test_chat_follow_up_shows_what_was_searched(client):
    chat, box = client.predict(JAPAN, [], api_name="/chat")
    assert box == "" and [m["role"] for m in chat] == ["user", "assistant"]
    first = content(chat[-1])
    assert "dz-cite" in first and 'class="dz-card"' in first and "<mark>" in first
    assert "Searched for" not in first
    # The session keeps the earlier questions (never the answers) for the follow-up.
    chat, _ = client.predict("And what about engines?", chat, api_name="/chat")
    assert len(chat) == 4
    second = content(chat[-1])
    assert "Searched for: <q>And what about engines? (" in second and "engine" in second.lower()


def test_abstention_shows_the_closest_passages(client):
    text, answer = client.predict(UNANSWERABLE, [], api_name="/ask")
    assert answer["abstained"] and answer["citations"] == [] and answer["passages"]
    assert "don't answer" in text
    chat, _ = client.predict(UNANSWERABLE, [], api_name="/chat")
    shown = content(chat[-1])
    assert "don&#x27;t answer" in shown and "Closest passages" in shown and "dz-cite" not in shown


def test_errors_are_readable(client, served):
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="unsupported file type"):
        client.predict(handle_file(write(served[2], "notes.xlsx", "not an article")), api_name="/upload")
    with pytest.raises(AppError, match="notes.pdf: not a readable PDF"):
        client.predict(handle_file(write(served[2], "notes.pdf", "not an article")), api_name="/upload")
    with pytest.raises(AppError, match="no indexed document"):
        client.predict("no-such-file.txt", api_name="/remove")
    chat, _ = client.predict("x" * 5000, [], api_name="/chat")
    assert "dz-error" in content(chat[-1]) and "limit is" in content(chat[-1])


def test_upload_becomes_answerable_then_remove(client, served):
    question = "How much will the Quillon expansion cost?"
    _, before = client.predict(question, [], api_name="/ask")
    assert before["abstained"]

    report = client.predict(handle_file(write(served[2], "quillon.txt", ARTICLE)), api_name="/upload")
    assert report["added"] == ["uploads/quillon.txt"] and report["chunks_embedded"] >= 1
    assert (served[1].config.seeds_dir / "uploads" / "quillon.txt").is_file()
    listed = client.predict(api_name="/documents")
    assert any(d["source"] == "uploads/quillon.txt" and d["chunks"] >= 1 for d in listed)

    text, after = client.predict(question, [], api_name="/ask")
    assert not after["abstained"] and "12 million euros" in text
    assert after["citations"][0]["source"] == "uploads/quillon.txt"

    with pytest.raises(AppError, match="already indexed"):
        client.predict(handle_file(write(served[2], "copy.txt", ARTICLE)), api_name="/upload")

    removed = client.predict("uploads/quillon.txt", api_name="/remove")
    assert removed["removed"] == ["uploads/quillon.txt"]
    assert not (served[1].config.seeds_dir / "uploads" / "quillon.txt").exists()
    assert client.predict(question, [], api_name="/ask")[1]["abstained"]


def test_malicious_document_comes_back_escaped(client, served):
    client.predict(handle_file(write(served[2], "zorblax.html", MALICIOUS)), api_name="/upload")
    question = "Where was the Zorblax treaty signed?"
    text, answer = client.predict(question, [], api_name="/ask")
    assert not answer["abstained"] and "Vilnius" in text
    # The API returns data: the article's text as it is, markup characters included.
    assert "<script>" in answer["citations"][0]["snippet"]

    chat, _ = client.predict(question, [], api_name="/chat")
    shown = content(chat[-1])
    assert "&lt;script&gt;window.__xss=3&lt;/script&gt;" in shown
    assert "&lt;img src=x onerror=window.__xss=2&gt;" in shown  # the title on the card
    assert "<script" not in shown.lower() and "<img" not in shown.lower()
    assert "onerror=" not in shown.replace("&lt;img src=x onerror=", "")  # only inside escaped text

    # The user's own question is escaped too, and so is the documents table.
    chat, _ = client.predict("<b>Zorblax</b> <img src=x onerror=alert(1)>?", [], api_name="/chat")
    assert content(chat[0]).startswith('<div class="dz-user">&lt;b&gt;Zorblax&lt;/b&gt; &lt;img')
    table = render.documents_html(served[1].documents())
    assert "Zorblax treaty &lt;img src=x onerror=window.__xss=2&gt; signed" in table and "<img" not in table
    client.predict("uploads/zorblax.html", api_name="/remove")


def content(message: dict) -> str:
    """A chat message's HTML (Gradio 6 sends content as a list of typed parts)."""
    parts = message["content"]
    if isinstance(parts, str):
        return parts
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def test_upload_progress_reaches_the_documents_tab_bar(fresh_pipeline):
    """Uploads report their indexing stages (tagging and embedding, which run at once in two
    threads); the tab's one bar follows the stage furthest behind and names both counts."""
    app = load_app_module()
    p = fresh_pipeline.warm_up()
    events: list[tuple[str, int, int]] = []
    story = ("Port Velland's harbour board said on Monday that 412 cargo ships docked there last year, "
             "a record for the port. The board's chair, Ilse Marwick, credited the new deep-water berth.")
    [result] = p.upload_many([("velland.txt", story.encode())], progress=lambda *e: events.append(e))
    assert result.report is not None and {"annotate", "embed"} <= {s for s, _, _ in events}

    shown: list[tuple[tuple[int, int], str]] = []
    step = app.stage_progress(lambda value, desc="", unit="": shown.append((value, desc)))
    step("annotate", 1, 4)
    step("embed", 30, 40)  # embedding is further along: the bar stays with tagging
    assert shown[-1] == ((1, 4), "tagging stories 1/4, embedding sentences 30/40")
    step("annotate", 4, 4)  # tagging done: the bar moves to embedding
    assert shown[-1] == ((30, 40), "embedding sentences 30/40")
