"""Dossier in the browser: chat with the articles, see the sources, manage the documents.

    python app.py                      # http://127.0.0.1:7860 (RAG_HOST / RAG_PORT)
    python app.py --port 8080
    python app.py --host 0.0.0.0       # refused without RAG_AUTH_FILE, unless --insecure

A thin Gradio shell over the Python API (`rag.pipeline.Pipeline`): retrieval and answering live
in `rag`, and all HTML (with the escaping of article text) in `rag.web.render`.

With RAG_ADMIN_USERS, only those users may upload, add links, remove or index (UI and API alike).

Named API endpoints, for `gradio_client.Client(url).predict(..., api_name=...)`:
    /ask        (question, history) -> (answer text, answer dict); history: earlier questions,
                as a list or a JSON array
    /chat       (message, chat messages) -> chat messages as the browser shows them (HTML)
    /upload     (file) -> what was indexed
    /add_link   (url) -> what was fetched and indexed
    /documents  () -> the indexed documents
    /remove     (doc id or file name) -> what was removed
"""

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import rag  # noqa: F401  (first: keeps every library, Gradio included, offline)
from rag.cli import ProgressBars
from rag.config import Config
from rag.errors import RagError
from rag.pipeline import KINDS, SUPPORTED_SUFFIXES, Pipeline
from rag.schema import STAGE_LABELS, AddResult, Answer, IndexReport
from rag.web import auth, render

import gradio as gr  # isort: skip  (after rag, which sets GRADIO_ANALYTICS_ENABLED=False)
from gradio.data_classes import FileData  # isort: skip

log = logging.getLogger("dossier.app")

# Questions the bundled seed articles answer; with another corpus they simply abstain.
EXAMPLES = [
    "What did Japan offer India?",
    "Which countries are Japan's partners in the Global Combat Air Program?",
    "What did the heavy industries minister say about Tesla's plans?",
    "How many people were killed in the Kashmir attack, and on what date?",
]
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)

# System fonts only: a theme with Google Fonts would make every page load reach the internet.
THEME = gr.themes.Default(
    primary_hue="blue",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

Messages = list[dict[str, Any]]


def create_app(pipeline: Pipeline, access: auth.Access | None = None) -> gr.Blocks:
    """The Blocks app over a warmed-up pipeline. Start it with `launch(demo, config)`. `access` says
    who may change the documents (default: from the pipeline's RAG_ADMIN_USERS and RAG_AUTH_FILE)."""
    if access is None:
        access = app_access(pipeline.config)

    def denied(request: gr.Request | None, action: str) -> str | None:
        """Checked in every handler that changes the index, UI and API alike: the page's disabled
        buttons are a courtesy, the browser's events can be sent by anything that can log in."""
        return access.denial(getattr(request, "username", None), action)

    def status() -> str:
        snap = pipeline.snapshot
        return render.status_html(len(snap.documents), len(snap.chunks), model_label(pipeline), pipeline.config.answer_mode)

    def file_choices() -> list[tuple[str, str]]:
        titles: dict[str, list[str]] = {}
        for d in pipeline.documents():
            titles.setdefault(d.source, []).append(d.title)
        return [(f"{source} — {'; '.join(t)}"[:160], source) for source, t in titles.items()]

    def documents_view() -> tuple[str, dict, str]:
        return render.documents_html(pipeline.documents()), gr.update(choices=file_choices(), value=None), status()

    def folder_view(request: gr.Request | None = None) -> tuple[str, dict]:
        """What changed in the seeds folder since the last index, and the button that indexes it
        (the app never indexes the folder on its own; only an admin sees the button)."""
        note = pipeline.folder_note()
        may = denied(request, "index the folder") is None
        return (f'<p class="dz-note">{render.esc(note)}</p>' if note else ""), gr.update(visible=bool(note) and may)

    def controls_view(request: gr.Request) -> tuple[dict, ...]:
        """The change controls, disabled for a user who may not use them (with a note saying so)."""
        may = denied(request, "change the documents") is None
        note = "" if may else ('<p class="dz-note">Only an admin can add or remove documents; '
                               "you can ask questions and browse them.</p>")
        return (*(gr.update(interactive=may) for _ in range(5)), note)

    # (Gradio finds its progress tracker by this default value: B008 does not apply.)
    def index_folder(request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[str, str, dict, str, str, dict]:  # noqa: B008
        refusal = denied(request, "index the folder")
        if refusal:
            return render.message_html([], [refusal]), *documents_view(), *folder_view(request)
        try:
            report = pipeline.index(progress=stage_progress(progress))
            ok, failed = [f"indexed the folder: added {len(report.added)}, updated {len(report.updated)}, "
                          f"removed {len(report.removed)}; now {report.documents} documents"], []
        except RagError as exc:
            ok, failed = [], [str(exc)]
        return render.message_html(ok, failed), *documents_view(), *folder_view(request)

    # -- chat ---------------------------------------------------------------------------------
    def respond(message: str, chat: Messages | None, questions: list[str] | None) -> Iterator[tuple[Messages, str, list[str]]]:
        """Stream one answer into the chat. Only earlier *questions* go back in as history."""
        chat, questions = list(chat or []), list(questions or [])
        question = (message or "").strip()
        if not question:
            yield chat, "", questions
            return
        turn = f"t{sum(1 for m in chat if _role(m) == 'assistant') + 1}"
        chat += [{"role": "user", "content": render.user_html(question)},
                 {"role": "assistant", "content": render.pending_html()}]
        yield chat, "", questions
        text, answer = "", None
        try:
            for item in pipeline.ask_stream(question, questions):
                if isinstance(item, Answer):
                    answer = item
                elif item:
                    text += item
                    chat[-1] = {"role": "assistant", "content": render.streaming_html(text)}
                    yield chat, "", questions
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": render.error_html(str(exc))}
            yield chat, "", questions
            return
        except Exception as exc:  # keep the chat usable; the traceback goes to the server log
            log.exception("answering %r failed", question)
            chat[-1] = {"role": "assistant", "content": render.error_html(f"Something went wrong ({type(exc).__name__}); see the server log.")}
            yield chat, "", questions
            return
        if answer is None:  # an answerer that ended without its final Answer: show what it wrote
            answer = Answer(text=text, citations=[], abstained=False, question=question, query=question)
        chat[-1] = {"role": "assistant", "content": render.answer_html(answer, turn)}
        yield chat, "", questions + [question]

    # -- documents ------------------------------------------------------------------------------
    def upload_files(paths: list[str] | None, request: gr.Request,
                     progress: gr.Progress = gr.Progress()) -> tuple[str, str, dict, str, None]:  # noqa: B008
        refusal = denied(request, "upload documents")
        if refusal:
            return render.message_html([], [refusal]), *documents_view(), None
        ok, failed = [], []
        paths = paths or []
        batch: list[tuple[str, bytes]] = []
        for i, path in enumerate(paths):
            name = Path(path).name  # Gradio keeps the uploaded file's own name
            progress((i, len(paths)), desc=f"reading {name}", unit="files")
            try:
                batch.append((name, Path(path).read_bytes()))
            except OSError as exc:
                failed.append(f"{name}: could not read the upload ({exc.strerror or exc})")
        if batch:
            progress((len(paths), len(paths)), desc=f"indexing {len(batch)} file(s)", unit="files")
            try:
                results = pipeline.upload_many(batch, progress=stage_progress(progress))
                added = [r for r in results if r.report is not None]
                failed += [r.error for r in results if r.report is None]
                if added:  # one update for them all: one line
                    names = ", ".join(r.name for r in added[:3]) + (f" and {len(added) - 3} more" if len(added) > 3 else "")
                    assert added[0].report is not None
                    ok.append(_report_line(names, added[0].report))
            except RagError as exc:
                failed.append(str(exc))
        if not ok and not failed:
            failed.append(f"choose one or more {KINDS} files first")
        docs, choices, stat = documents_view()
        return render.message_html(ok, failed), docs, choices, stat, None

    def link_from_box(url: str | None, request: gr.Request) -> tuple[str, str, dict, str, str]:
        refusal = denied(request, "add links")
        if refusal:
            return render.message_html([], [refusal]), *documents_view(), url or ""
        ok, failed = [], []
        try:
            ok.append(_link_line(url or "", pipeline.add_link(url or "")))
            url = ""  # done: clear the box
        except RagError as exc:
            failed.append(str(exc))
        return render.message_html(ok, failed), *documents_view(), url or ""

    def remove_file(source: str | None, request: gr.Request) -> tuple[str, str, dict, str]:
        ok, failed = [], []
        refusal = denied(request, "remove documents")
        if refusal:
            failed.append(refusal)
        elif not source:
            failed.append("choose a file to remove first")
        else:
            try:
                report = pipeline.remove(source)
                ok.append(f"removed {source}; {report.documents} documents, {report.chunks} chunks remain")
            except RagError as exc:
                failed.append(str(exc))
        return render.message_html(ok, failed), *documents_view()

    # -- API-only endpoints (data, not HTML) ----------------------------------------------------
    def refuse(request: gr.Request, action: str) -> None:
        refusal = denied(request, action)
        if refusal:
            raise gr.Error(refusal)

    def api_ask(question: str, history: list[Any] | str | None = None) -> tuple[str, dict]:
        """Answer a question; history is the earlier questions (a list or a JSON array), oldest first."""
        try:
            answer = pipeline.ask(question, _history(history))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        except gr.Error:
            raise
        except Exception as exc:  # one line for the caller; the traceback goes to the server log
            log.exception("answering %r failed", question)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}); see the server log.") from exc
        return answer.text, answer.to_dict()

    def api_upload(file: FileData, request: gr.Request) -> dict:
        """Index an uploaded .txt, .md, .html, .pdf or .docx article; it is answerable as soon as this returns."""
        refuse(request, "upload documents")
        path, name = _uploaded(file)
        try:
            report = pipeline.upload(name, path.read_bytes())
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return {"message": _report_line(name, report), **asdict(report)}

    def api_add_link(url: str, request: gr.Request) -> dict:
        """Fetch a web page (http or https), keep it in the seeds folder and index it."""
        refuse(request, "add links")
        try:
            result = pipeline.add_link(url)
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return {"message": _link_line(url, result), "sources": result.sources, **asdict(result.report)}

    def api_documents() -> list[dict]:
        """The indexed documents: id, title, publisher, date, source file, chunk count, pages (PDF),
        the text encoding a text file was read with, and the url of a fetched page."""
        return [
            {"doc_id": d.doc_id, "title": d.title, "publisher": d.publisher, "date": d.date,
             "source": d.source, "chunks": len(d.chunk_ids), "pages": len(d.page_starts) or None,
             "encoding": d.encoding, "url": d.url}
            for d in pipeline.documents()
        ]

    def api_remove(document: str, request: gr.Request) -> dict:
        """Remove a document (by doc id or file name): its file's stories leave the index and disk."""
        refuse(request, "remove documents")
        try:
            return asdict(pipeline.remove(document))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc

    # -- layout -------------------------------------------------------------------------------
    with gr.Blocks(title="Dossier", analytics_enabled=False) as demo:
        gr.Markdown("## Dossier\nAsk questions of the news articles; every answer cites its sources.")
        status_line = gr.HTML(status(), elem_id="dz-status")
        with gr.Tabs():
            with gr.Tab("Chat"):
                chatbot = gr.Chatbot(
                    elem_id="dz-chat",
                    label="Chat",
                    show_label=False,
                    height="62vh",
                    # Messages are HTML built by rag.web.render (article text escaped there); Markdown
                    # would re-read that text, LaTeX would eat "$2 billion ... $3".
                    render_markdown=False,
                    sanitize_html=True,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],  # Gradio's copy buttons would copy the HTML markup, not the text
                    placeholder="Ask about the articles, or pick an example below. Follow-ups such as "
                    "“When was that agreed?” use your earlier questions.",
                )
                with gr.Row():
                    msg = gr.Textbox(
                        elem_id="dz-question",
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        scale=8,
                        autofocus=True,
                        submit_btn="Ask",
                        max_length=pipeline.config.max_question_chars,
                    )
                    new_chat = gr.Button("New chat", elem_id="dz-new-chat", scale=1, variant="secondary")
                with gr.Row(elem_id="dz-examples"):
                    example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
            with gr.Tab("Documents", elem_id="dz-documents-tab"):
                docs_table = gr.HTML(render.documents_html(pipeline.documents()), elem_id="dz-docs")
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label=f"Add articles (.txt, .md, .html, .pdf, .docx; up to "
                                              f"{render.size_label(pipeline.config.max_file_bytes)} each)", file_count="multiple",
                                        file_types=UPLOAD_TYPES, type="filepath", elem_id="dz-upload")
                        upload_btn = gr.Button("Add to the index", variant="primary", elem_id="dz-upload-btn")
                        with gr.Row():
                            link_box = gr.Textbox(label="Add link (a web article, http or https)", placeholder="https://…",
                                                  scale=4, elem_id="dz-link", max_lines=1)
                            link_btn = gr.Button("Fetch and add", scale=1, elem_id="dz-link-btn")
                    with gr.Column():
                        to_remove = gr.Dropdown(label="Remove a file (all its stories; the file is deleted)",
                                                choices=file_choices(), value=None, elem_id="dz-remove-choice")
                        remove_btn = gr.Button("Remove", variant="stop", elem_id="dz-remove-btn")
                result = gr.HTML(elem_id="dz-result")
                access_note = gr.HTML(elem_id="dz-access-note")
                with gr.Row():
                    folder_note = gr.HTML(elem_id="dz-folder-note")
                    reindex_btn = gr.Button("Index the folder's changes", visible=False, elem_id="dz-reindex-btn")
        questions = gr.State([])

        chat_io = {"inputs": [msg, chatbot, questions], "outputs": [chatbot, msg, questions]}
        msg.submit(respond, **chat_io, api_name="chat", show_progress="hidden")
        for button in example_buttons:  # a Button's value is its label: the question
            button.click(respond, [button, chatbot, questions], chat_io["outputs"], api_visibility="private", show_progress="hidden")
        new_chat.click(lambda: ([], "", []), outputs=[chatbot, msg, questions], api_visibility="private")
        chatbot.clear(lambda: [], outputs=[questions], api_visibility="private")

        upload_btn.click(upload_files, [files], [result, docs_table, to_remove, status_line, files], api_visibility="private")
        link_io = {"inputs": [link_box], "outputs": [result, docs_table, to_remove, status_line, link_box],
                   "api_visibility": "private"}
        link_btn.click(link_from_box, **link_io)
        link_box.submit(link_from_box, **link_io)
        remove_btn.click(remove_file, [to_remove], [result, docs_table, to_remove, status_line], api_visibility="private")
        # Another tab may have changed the index: show the current state on every page load.
        demo.load(documents_view, outputs=[docs_table, to_remove, status_line], api_visibility="private")
        demo.load(folder_view, outputs=[folder_note, reindex_btn], api_visibility="private")
        demo.load(controls_view, outputs=[files, upload_btn, link_box, link_btn, remove_btn, access_note],
                  api_visibility="private")
        reindex_btn.click(index_folder, outputs=[result, docs_table, to_remove, status_line, folder_note, reindex_btn],
                          api_visibility="private")

        gr.api(api_ask, api_name="ask")
        gr.api(api_upload, api_name="upload")
        gr.api(api_add_link, api_name="add_link")
        gr.api(api_documents, api_name="documents")
        gr.api(api_remove, api_name="remove")
    return demo


def launch(demo: gr.Blocks, config: Config, **kwargs: Any) -> tuple[Any, str, str]:
    """Start the server with the offline-safe settings; keyword arguments override them."""
    settings: dict[str, Any] = {
        "server_name": config.host,
        "server_port": config.port,
        "share": False,
        "theme": THEME,
        "css": render.CSS,
        # The page takes files over RAG_MAX_FILE_BYTES out before they are sent, and the pipeline
        # refuses any that come another way (the API), both naming the limit; Gradio's own limit only
        # stops absurd uploads to the server early.
        "max_file_size": 2 * config.max_file_bytes,
        "head": render.upload_limit_script(config.max_file_bytes),
        "ssr_mode": False,  # no Node server
        "pwa": False,
        "mcp_server": False,
        "footer_links": ["api", "settings"],
    }
    if config.auth_file is not None:  # a shared server: the page and every endpoint need a login
        settings["auth"] = auth.checker(auth.read_users(config.auth_file))
        settings["auth_message"] = "Dossier: log in with the account the server's owner gave you."
    settings.update(kwargs)
    # (again here, for a caller that passes server_name itself: no open door by any path)
    auth.exposure(settings["server_name"] or "", config.auth_file if settings.get("auth") else None, config.insecure)
    demo.queue(default_concurrency_limit=1)
    return demo.launch(**settings)


def app_access(config: Config) -> auth.Access:
    """Who may change the documents: RAG_ADMIN_USERS, checked against the login file's users."""
    users = auth.read_users(config.auth_file) if config.auth_file is not None else None
    return auth.access(config.admins, users, config.auth_file)


def model_label(pipeline: Pipeline) -> str:
    """The embedding model's name for the status line, with the backend that runs it."""
    name = pipeline.embedder.name
    # The bundled copy (embed_model unset) sits in a folder called just "model".
    if not pipeline.config.embed_model and name == "model":
        name = "all-MiniLM-L6-v2"
    return f"{name} ({pipeline.embedder.backend})"


def _role(message: Any) -> str:
    return message.get("role", "") if isinstance(message, dict) else getattr(message, "role", "")


def _history(history: list[Any] | str | None) -> list[Any]:
    """Earlier questions from a list, a JSON array or a single string."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except ValueError:
            return [history]  # one earlier question, given as plain text
        if isinstance(history, str):
            return [history]
    if not isinstance(history, list):
        raise gr.Error("history must be a list of earlier questions (or a JSON array of them)")
    return history


def _uploaded(file: Any) -> tuple[Path, str]:
    """The uploaded file's path and name; only files in Gradio's upload folder are accepted."""
    from gradio.utils import get_upload_folder

    data = file.model_dump() if hasattr(file, "model_dump") else file
    if not isinstance(data, dict) or not data.get("path"):
        raise gr.Error("send the article as a file (gradio_client.handle_file(path))")
    path = Path(data["path"]).resolve()
    if not path.is_relative_to(Path(get_upload_folder()).resolve()) or not path.is_file():
        raise gr.Error("the file must be uploaded through this app")
    return path, data.get("orig_name") or path.name


def stage_progress(progress: gr.Progress) -> Callable[[str, int, int], None]:
    """Indexing progress on one Gradio bar. Tagging and embedding run at once and report from two
    threads, so the bar follows the running stage furthest behind and names each one's count."""
    counts: dict[str, tuple[int, int]] = {}
    lock = threading.Lock()

    def step(stage: str, done: int, total: int) -> None:
        with lock:
            counts[stage] = (done, total)
            running = {k: v for k, v in counts.items() if v[0] < v[1]} or {stage: (done, total)}
            behind = min(running.values(), key=lambda v: v[0] / max(v[1], 1))
            desc = ", ".join(f"{STAGE_LABELS.get(k, k)} {d:,}/{t:,}" for k, (d, t) in running.items())
        progress(behind, desc=desc, unit="items")

    return step


def _report_line(name: str, report: IndexReport) -> str:
    return f"added {name}: {report.chunks_embedded} chunks embedded; now {report.documents} documents, {report.chunks} chunks"


def _link_line(url: str, result: AddResult) -> str:
    if not result.sources:
        return f"{url}: already indexed, unchanged"
    return f"added {url} as {result.sources[0]}: {result.report.chunks_embedded} chunks embedded; now {result.report.documents} documents"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Dossier: chat with the news articles in the browser.")
    parser.add_argument("--host", help="address to listen on (default RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default RAG_PORT or 7860)")
    parser.add_argument("--insecure", action="store_true", default=None,
                        help="serve a non-loopback --host without a login (RAG_INSECURE=1); refused otherwise")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("insecure", args.insecure)) if v is not None}
    try:
        config = Config.from_env(**overrides)
        # All of these stop the start before the models load: a bad login file, an admin who is
        # not in it, a non-loopback address without a login.
        access = app_access(config)
        warning = auth.exposure(config.host, config.auth_file, config.insecure)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        print("Loading the models and opening the index…", file=sys.stderr)
        with ProgressBars() as bars:  # shown only when there is no index yet and one is built
            pipeline = Pipeline(config).warm_up(progress=bars)  # models load now, not on the first question
        note = pipeline.folder_note()
        if note:  # never indexed silently: the Documents tab offers the button too
            print(f"note: {note}", file=sys.stderr)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Gradio switches matplotlib's backend around every request (utils.MatplotlibBackendMananger);
    # resolving the default backend imported pyplot during the first request and made the first
    # answer 400 ms against 75 ms for the next ones. A server has no screen: agg, imported now.
    os.environ.setdefault("MPLBACKEND", "agg")
    import matplotlib  # noqa: F401

    launch(create_app(pipeline, access), config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
