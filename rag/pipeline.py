"""documents → chunks → index → retrieval → answer, behind one object the UI, CLI and API share."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.answer.answering import Answerer, AnswerRequest
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.config import AnswerMode, Config
from rag.errors import CorpusError, DocumentNotFound, QuestionError, StoreUnavailable
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.retrieve.followup import condense, user_questions
from rag.retrieve.retrieval import Retriever, Snapshot, build_snapshot
from rag.schema import Answer, DocRecord, FolderChanges, IndexReport, Passage, Progress
from rag.store.chroma import Store
from rag.store.embeddings import Embedder
from rag.store.indexer import Indexer, SourceFile, file_changes, read_folder
from rag.store.server import ServerStore, is_server, open_current

log = logging.getLogger(__name__)

UPLOADS = "uploads"  # uploaded files are kept in <seeds>/uploads so a re-index keeps them


def make_answerer(config: Config, embedder: Embedder) -> Answerer:
    """The answerer for `config.answer_mode` (here, not in rag.answer: the modes build on each other)."""
    if config.answer_mode == AnswerMode.EXTRACTIVE:
        return ExtractiveAnswerer(config, embed=embedder.embed_query)
    return GenerativeAnswerer(config, embedder)  # local or openai (Config accepts no other mode)


class Pipeline:
    def __init__(self, config: Config | None = None, embedder: Embedder | None = None,
                 indexer: Indexer | None = None) -> None:
        self.config = config or Config.from_env()
        # Pass an embedder to share one loaded model between pipelines (tests, eval configurations).
        self.embedder = embedder or Embedder.from_config(self.config)
        self.retriever = Retriever(self.config)
        self.answerer = make_answerer(self.config, self.embedder)
        self._indexer: Indexer | None = indexer
        self._snapshot: Snapshot | None = None
        self._write_lock = threading.Lock()  # one index update at a time; readers never wait
        self._refresh_lock = threading.Lock()  # server mode: one reload of a newer version at a time
        self._checked_at = 0.0

    # -- start-up --------------------------------------------------------------------------
    def warm_up(self, sync: bool = False, progress: Progress | None = None) -> Pipeline:
        """Load the models and open the index.

        The index is never brought up to date silently: files added to, changed in or removed
        from the seeds folder since the last index are listed by `folder_changes()` (the CLI and
        the app say so) and indexed by `index()`, or here with sync=True. Only when there is no
        index yet, or it was built with other settings (another embedding model, chunk size),
        is one built now, reporting to `progress`. A bad file in the folder is reported and the
        existing index keeps serving.
        """
        if self._snapshot is not None:
            return self
        self.embedder.warm_up()
        self.answerer.warm_up()
        store = open_current(self.config)
        self._check_compatible(store)
        if store is None or store.manifest().settings != self._indexer_().settings():
            if store is not None:
                log.warning("the index was built with other settings; rebuilding it from %s", self.config.seeds_dir)
            store, _ = self._indexer_().sync(store, read_folder(self.config.seeds_dir, self.config.max_file_bytes),
                                             progress=progress)
        elif sync and self.config.seeds_dir.exists():
            try:
                store, _ = self._indexer_().sync(
                    store, read_folder(self.config.seeds_dir, self.config.max_file_bytes), progress=progress
                )
            except CorpusError as exc:
                log.warning("seeds folder not re-indexed, serving the previous index: %s", exc)
        self._snapshot = build_snapshot(store, self.config.retrieve)
        self._warm_paths(self._snapshot)
        return self

    def folder_changes(self) -> FolderChanges:
        """What `index()` would add, update or remove: the seeds folder against the served index
        (reads and hashes the folder's files; nothing is parsed or embedded)."""
        manifest = self.snapshot.store.manifest()
        if manifest.settings != self._indexer_().settings():
            return FolderChanges([], [], [], rebuild=True)
        try:
            files = read_folder(self.config.seeds_dir, self.config.max_file_bytes)
        except CorpusError:
            files = []  # an empty or missing folder is reported by `index()`, which refuses it
        fresh, gone = file_changes(manifest.files, files)
        gone = [s for s in gone if self._indexer_().owns(manifest.files[s])]  # (server mode: this folder's)
        return FolderChanges(
            added=sorted(s for s in fresh if s not in manifest.files),
            updated=sorted(s for s in fresh if s in manifest.files),
            # Uploads are kept in the folder too; a file that is gone from it is gone for good.
            removed=sorted(gone) if files else [],
        )

    def folder_note(self) -> str:
        """One line for the user when the seeds folder changed since the last index, else ""."""
        pending = self.folder_changes()
        return pending.describe(str(self.config.seeds_dir)) if pending else ""

    def _warm_paths(self, snap: Snapshot) -> None:
        """Run one question through retrieval and the extractive answer step now, so that the
        first user question is no slower than the next: the first Chroma query loads the HNSW
        index, and the answer step imports its tokenizer and fills its caches on first use
        (seconds on a loaded 2-core machine). Generative modes fall back to this step too."""
        question = "Who said what about the agreement in 2024, and how much did it cost?"
        vector = self.embedder.embed_query(question)
        passages = self.retriever.retrieve(snap, question, vector)
        try:
            ExtractiveAnswerer(self.config, embed=self.embedder.embed_query).answer(AnswerRequest(question, question, passages, vector, snap))
            # The evidence check tokenises candidate names with cl100k only for some questions;
            # loading it lazily cost the first such question 6-11 s on a loaded machine.
            from rag.offline import cl100k

            cl100k()(" warm")
        except Exception as exc:  # warming must never stop the start; the real question will report it
            log.debug("answer warm-up failed: %s", exc)

    def _indexer_(self) -> Indexer:
        if self._indexer is None:
            self._indexer = Indexer(self.config, self.embedder)
        return self._indexer

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self.warm_up()
        assert self._snapshot is not None  # warm_up sets it
        if isinstance(self._snapshot.store, ServerStore):
            self._follow_server()
        return self._snapshot

    def _check_compatible(self, store: Store | None) -> None:
        """Server mode: refuse an index built with another model, dimension or settings (it is
        shared: rebuilding it here would change it under every other process)."""
        if isinstance(store, ServerStore):
            store.check_compatible(self._indexer_().settings(), self.embedder.dimension)

    def _follow_server(self) -> None:
        """Server mode: serve the server's latest version, checked before each question (every
        `chroma_check_seconds` at most): what another process indexed is answerable from the next
        question on. The check is one round trip; a newer version is loaded once, by one thread,
        while the others go on answering from the version they have."""
        now = time.monotonic()
        snap = self._snapshot
        assert snap is not None and isinstance(snap.store, ServerStore)
        if now - self._checked_at < self.config.chroma_check_seconds:
            return
        if snap.store.is_current():
            self._checked_at = now
            return
        if not self._refresh_lock.acquire(blocking=False):
            return  # another thread is loading it: serve the version at hand meanwhile
        try:
            if self._snapshot is not snap:
                return  # another thread loaded it meanwhile
            store = snap.store.reopen()
            if store is None:
                raise StoreUnavailable(f"the index on {snap.store.conn.where} was deleted; index the folder again")
            self._check_compatible(store)
            self._snapshot = build_snapshot(store, self.config.retrieve)
            self._checked_at = now
        finally:
            self._refresh_lock.release()

    # -- indexing --------------------------------------------------------------------------
    def index(self, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Sync the index with the seeds folder (incremental), or rebuild it from scratch;
        `progress(stage, done, total)` follows the work (see rag.schema.Progress)."""
        files = read_folder(self.config.seeds_dir, self.config.max_file_bytes)
        with self._write_lock:
            self.embedder.warm_up()
            current = None if rebuild else self._current_store()
            if not rebuild:
                self._check_compatible(current)
            store, report = self._indexer_().sync(current, files, progress=progress)
            snap = self._snapshot
            if not report.changed and snap is not None and store is snap.store and store.tables_signature() == snap.signature:
                return report  # nothing changed: the snapshot being served is still exact
            self._snapshot = build_snapshot(store, self.config.retrieve)
        return report

    def _current_store(self) -> Store | None:
        """The live generation: the one being served when it still is (its Chroma client is open
        and its tables parsed), else opened from disk."""
        snap = self._snapshot
        if is_server(self.config):
            if snap is not None and isinstance(snap.store, ServerStore) and snap.store.is_current():
                return snap.store
            return open_current(self.config)
        if snap is not None and Store.current_name(self.config.index_dir) == snap.store.path.name:
            return snap.store
        return Store.open_current(self.config.index_dir, self.config.collection)

    def upload(self, filename: str, data: bytes) -> IndexReport:
        """Save an uploaded article under seeds/uploads/ and index it; answerable at once."""
        name = safe_filename(filename)
        if len(data) > self.config.max_file_bytes:
            raise CorpusError(f"{name}: {len(data):,} bytes is over the {self.config.max_file_bytes:,}-byte upload limit")
        if not data.strip():
            raise CorpusError(f"{name}: the file is empty")
        digest = hashlib.sha256(data).hexdigest()[:32]
        with self._write_lock:
            store = self.snapshot.store
            manifest = store.manifest()
            for source, info in manifest.files.items():
                if info["hash"] == digest:
                    raise CorpusError(f"{name}: the same content is already indexed as {source}")
            source = f"{UPLOADS}/{name}"
            if source in manifest.files:
                raise CorpusError(f"{name}: a different file with this name is already indexed; rename it")
            upload = SourceFile(source, data, Path(name).suffix)
            store, report = self._indexer_().sync(store, [upload], remove_missing=False)
            # Persist the file only once it parsed and indexed, so a rejected upload leaves no trace.
            target = self.config.seeds_dir / source
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self._snapshot = build_snapshot(store, self.config.retrieve)
        return report

    def remove(self, doc_or_source: str) -> IndexReport:
        """Remove a document (by doc id or file name) and the file it came from."""
        with self._write_lock:
            store = self.snapshot.store
            manifest = store.manifest()
            source = doc_or_source if doc_or_source in manifest.files else None
            if source is None and doc_or_source in manifest.documents:
                source = manifest.documents[doc_or_source].source
            if source is None:
                raise DocumentNotFound(f"no indexed document or file named {doc_or_source!r}")
            store, report = self._indexer_().remove(store, [source])
            path = self.config.seeds_dir / source
            if path.is_file():
                path.unlink()
            self._snapshot = build_snapshot(store, self.config.retrieve)
        return report

    def documents(self) -> list[DocRecord]:
        return sorted(self.snapshot.documents.values(), key=lambda d: (d.source, d.doc_id))

    # -- questions -------------------------------------------------------------------------
    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]:
        query = self._check(query)
        return self.retriever.retrieve(self.snapshot, query, self.embedder.embed_query(query), top_k)

    def prepare(self, question: str, history: list[Any] | None = None) -> AnswerRequest:
        """Validate, condense a follow-up, embed and retrieve: everything before the answer step."""
        question = self._check(question)
        snap = self.snapshot
        earlier = user_questions(history)
        query = condense(question, earlier, self.config.retrieve)
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        passages = self.retriever.retrieve(snap, query, vector)
        t2 = time.perf_counter()
        request = AnswerRequest(question, query, passages, vector, snap, earlier)
        request.timings = {"embed": t1 - t0, "retrieve": t2 - t1}
        return request

    def ask(self, question: str, history: list[Any] | None = None) -> Answer:
        t0 = time.perf_counter()
        request = self.prepare(question, history)
        answer = self.answerer.answer(request)
        answer.timings.update(request.timings)
        answer.timings["total"] = time.perf_counter() - t0
        return answer

    def ask_stream(self, question: str, history: list[Any] | None = None) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final `Answer`."""
        t0 = time.perf_counter()
        request = self.prepare(question, history)
        for item in self.answerer.stream(request):
            if isinstance(item, Answer):
                item.timings.update(request.timings)
                item.timings["total"] = time.perf_counter() - t0
            yield item

    def check_question(self, question: str) -> str:
        """The question, stripped; QuestionError when it is empty or too long."""
        return self._check(question)

    def _check(self, question: str) -> str:
        if not isinstance(question, str):
            raise QuestionError(f"the question must be text, not {type(question).__name__}")
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty; type a question about the articles")
        if len(question) > self.config.max_question_chars:
            raise QuestionError(
                f"the question is {len(question):,} characters long; the limit is "
                f"{self.config.max_question_chars:,} (RAG_MAX_QUESTION_CHARS)"
            )
        return question


def safe_filename(filename: str) -> str:
    """A plain file name: no folders, no traversal, no hidden files, a supported suffix."""
    name = Path(str(filename).replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CorpusError(f"{filename!r}: unsupported file type; upload .txt, .md or .html files")
    if not Path(name).stem:
        raise CorpusError(f"{filename!r}: the file name is empty")
    return name[:120]
