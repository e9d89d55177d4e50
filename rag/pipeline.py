"""documents → chunks → index → retrieval → answer, behind one object the UI, CLI and API share."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rag.answer.answering import Answerer, AnswerRequest
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.config import AnswerMode, Config
from rag.errors import CorpusError, DocumentNotFound, IndexCorruptError, QuestionError, StoreUnavailable
from rag.ingest.feeds import import_feed
from rag.ingest.imports import IMPORTED
from rag.ingest.loaders import KINDS, SUPPORTED_SUFFIXES, content_hash, parse
from rag.ingest.web import FetchLimits, check_url, fetch_article, link_filename
from rag.retrieve.followup import condense, user_questions
from rag.retrieve.retrieval import Retriever, Snapshot, build_snapshot, gather
from rag.schema import (
    AddResult,
    Answer,
    DocRecord,
    FolderChanges,
    IndexReport,
    Passage,
    Progress,
    RepairReport,
    UploadResult,
)
from rag.store import generations
from rag.store.chroma import REPAIR_HINT, Manifest, Store
from rag.store.embeddings import Embedder
from rag.store.indexer import Indexer, SourceFile, file_changes, read_folder
from rag.store.integrity import diagnose, remove_leftovers
from rag.store.lock import index_lock
from rag.store.server import ServerStore, is_server, open_current
from rag.text.sanitize import clean_text, foreign_script, has_words

log = logging.getLogger(__name__)

__all__ = ["KINDS", "SUPPORTED_SUFFIXES", "Pipeline", "make_answerer", "safe_filename"]

UPLOADS = "uploads"  # uploaded files are kept in <seeds>/uploads so a re-index keeps them
LINKS = "web"  # fetched web links are kept in <seeds>/imported/web/
T = TypeVar("T")


def make_answerer(config: Config, embedder: Embedder) -> Answerer:
    """The answerer for `config.answer_mode` (here, not in rag.answer: the modes build on each other)."""
    if config.answer_mode == AnswerMode.EXTRACTIVE:
        return ExtractiveAnswerer(config, embed=embedder.embed_queries)
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
        self._refresh_lock = threading.Lock()  # one reload of a newer version at a time
        self._checked_at = 0.0
        self._seen: generations.DiskState | None = None  # embedded mode: the folder as last loaded

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
                known = self._known_files(store.manifest())
                store, _ = self._indexer_().sync(
                    store, read_folder(self.config.seeds_dir, self.config.max_file_bytes, known), progress=progress
                )
            except CorpusError as exc:
                log.warning("seeds folder not re-indexed, serving the previous index: %s", exc)
        self._serve(store)
        assert self._snapshot is not None
        self._warm_paths(self._snapshot)
        return self

    def folder_changes(self) -> FolderChanges:
        """What `index()` would add, update or remove: the seeds folder against the served index
        (reads and hashes the folder's files; nothing is parsed or embedded)."""
        manifest = self.snapshot.store.manifest()
        if manifest.settings != self._indexer_().settings():
            return FolderChanges([], [], [], rebuild=True)
        try:
            files = read_folder(self.config.seeds_dir, self.config.max_file_bytes, self._known_files(manifest))
        except CorpusError:
            files = []  # an empty or missing folder is reported by `index()`, which refuses it
        found = file_changes(manifest.files, files)
        fresh = found.fresh
        gone = [s for s in found.gone if self._indexer_().owns(manifest.files[s])]  # (server mode: this folder's)
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
            request = AnswerRequest(question, question, passages, vector, gather(snap, passages, vector))
            ExtractiveAnswerer(self.config, embed=self.embedder.embed_queries).answer(request)
            # The evidence check tokenises candidate names with cl100k only for some questions;
            # loading it lazily cost the first such question 6-11 s on a loaded machine.
            from rag.offline import cl100k

            cl100k()(" warm")
        except Exception as exc:  # warming must never stop the start; the real question will report it
            log.debug("answer warm-up failed: %s", exc)

    def _known_files(self, manifest: Manifest | None = None) -> dict[str, dict]:
        """The served index's files this process's folder indexed (their recorded size and mtime
        spare reading unchanged files again: rag.store.indexer.read_folder)."""
        if manifest is None:
            if self._snapshot is None:
                return {}
            manifest = self._snapshot.store.manifest()
        return {s: f for s, f in manifest.files.items() if self._indexer_().owns(f)}

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
        else:
            self._follow_folder()
        return self._snapshot

    def _serve(self, store: Store) -> None:
        """Answer from `store` from the next question on. Embedded mode: the folder's state is
        taken before the tables are read, so a write in between is seen by the next check."""
        if not isinstance(store, ServerStore):
            self._seen = generations.disk_state(self.config.index_dir, store.path)
        self._snapshot = build_snapshot(store, self.config.retrieve)
        self._checked_at = time.monotonic()

    def _follow_folder(self, stale: Snapshot | None = None) -> bool:
        """Embedded mode: serve the folder's live index, as `_follow_server` does a server's.

        Before a question (every `index_check_seconds` at most) a few stat calls notice a new
        generation or tables another process rewrote (`python -m rag index`, `--rebuild`,
        `--repair`); one thread loads it while the others go on answering from the snapshot they
        have. With `stale` (a snapshot whose generation vanished mid-question) the live index
        is loaded now, whatever the clock says. True when a newer snapshot is being served.
        """
        snap = stale or self._snapshot
        assert snap is not None
        now = time.monotonic()
        if stale is None and not snap.store.path.is_dir():
            # Its generation was deleted under it: the tables it holds in memory and Chroma's open
            # files would go on answering from an index that no longer exists. (One stat a question.)
            stale = snap
        if stale is None:
            if now - self._checked_at < self.config.index_check_seconds or self._write_lock.locked():
                return False  # (this process's own writer serves what it wrote when it is done)
            state = generations.disk_state(self.config.index_dir, snap.store.path)
            if state == self._seen:
                self._checked_at = now
                return False
        if not self._refresh_lock.acquire(blocking=stale is not None):
            return False  # another thread is loading it: serve the snapshot at hand meanwhile
        try:
            if self._snapshot is not snap:
                return True  # another thread loaded it meanwhile
            try:
                store = self._live_store(snap.store)
            except IndexCorruptError as exc:
                if stale is not None:
                    raise
                # The one being served still works: keep it, and say why once per change.
                log.warning("serving the index as it was: the live one cannot be opened (%s)", exc)
                self._seen, self._checked_at = generations.disk_state(self.config.index_dir, snap.store.path), now
                return False
            self._serve(store)
            self._checked_at = now
            log.info("now serving %s (written by another process)", store.path.name)
            return True
        finally:
            self._refresh_lock.release()

    def _live_store(self, served: Store) -> Store:
        """The folder's live generation, opened for reading: a fresh view of `served` when that
        is still the live one (its tables were rewritten in place), else the new generation."""
        index_dir = self.config.index_dir
        for _ in range(3):  # a publish may move CURRENT on while it is being opened
            name = Store.current_name(index_dir)
            try:
                store = served.fresh_view() if name == served.path.name else Store.open_current(index_dir, self.config.collection)
            except IndexCorruptError:
                if Store.current_name(index_dir) == name:
                    raise
                continue
            if store is None:
                raise IndexCorruptError(f"index at {index_dir} has no {generations.CURRENT} pointer any more. " + REPAIR_HINT)
            if store.manifest().settings != self._indexer_().settings():
                raise IndexCorruptError(f"index at {index_dir} was rebuilt with other settings (another embedding "
                                        "model or chunk size); restart to rebuild it with this one's")
            return store
        raise IndexCorruptError(f"index at {index_dir} keeps changing while it is opened; try again")

    def _read(self, read: Callable[[Snapshot], T]) -> T:
        """read(the served snapshot). Embedded mode: when its generation vanished under it
        (deleted by hand, or by a second publish before this process followed the first), the
        live one is loaded and read instead of failing the question."""
        snap = self.snapshot
        try:
            return read(snap)
        except Exception:
            if isinstance(snap.store, ServerStore) or snap.store.path.is_dir():
                raise
            log.warning("the generation being served (%s) was deleted; opening the live one", snap.store.path.name)
            self._follow_folder(stale=snap)
        return read(self.snapshot)

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
            self._serve(store)
            self._checked_at = now
        finally:
            self._refresh_lock.release()

    # -- indexing --------------------------------------------------------------------------
    def index(self, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Sync the index with the seeds folder (incremental), or rebuild it from scratch;
        `progress(stage, done, total)` follows the work (see rag.schema.Progress)."""
        files = read_folder(self.config.seeds_dir, self.config.max_file_bytes, self._known_files())
        with self._write_lock:
            self.embedder.warm_up()
            current = None if rebuild else self._current_store()
            if not rebuild:
                self._check_compatible(current)
            try:
                store, report = self._indexer_().sync(current, files, progress=progress)
            except Exception:
                # A failed write of this process's own (a full disk) may have touched the tables'
                # files: that is no other process's update to follow, and reopening a fresh Chroma
                # view beside the client that failed hung its next read.
                snap = self._snapshot
                if snap is not None and not isinstance(snap.store, ServerStore):
                    self._seen = generations.disk_state(self.config.index_dir, snap.store.path)
                raise
            snap = self._snapshot
            if not report.changed and snap is not None and store is snap.store and store.tables_signature() == snap.signature:
                return report  # nothing changed: the snapshot being served is still exact
            self._serve(store)
        return report

    def repair(self, progress: Progress | None = None) -> RepairReport:
        """Check the index folder; delete what interrupted runs left and unreadable caches, and
        rebuild an unusable index from the seeds folder (the one command a corrupt index names)."""
        with self._write_lock, index_lock(self.config.index_dir):
            found = diagnose(self.config.index_dir, self.config.collection)
            removed = remove_leftovers(found)
            if found.bad_caches:
                self._indexer = None  # its cache connections point at the deleted files
            rebuilt = None
            store = found.store
            if store is None:
                self.embedder.warm_up()
                store, rebuilt = self._indexer_().sync(
                    None, read_folder(self.config.seeds_dir, self.config.max_file_bytes), progress=progress)
            self._serve(store)
        return RepairReport(found.problems, removed, rebuilt, pruned_vectors=len(found.stale_rows))

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
        result = self.upload_many([(filename, data)])[0]
        if result.report is None:
            raise CorpusError(result.error)
        return result.report

    def upload_many(self, files: list[tuple[str, bytes]], progress: Progress | None = None) -> list[UploadResult]:
        """Index several uploaded articles in one update (one table rewrite and one BM25 build for
        all of them: 200 files one by one took 0.7 s each). Each file is checked on its own, and a
        refused one is reported, leaving no trace, while the others are indexed. `progress(stage,
        done, total)` follows the indexing, as in `index()`."""
        if len(files) > self.config.max_upload_files:
            raise CorpusError(f"{len(files):,} files in one upload; the limit is {self.config.max_upload_files:,} "
                              "(RAG_MAX_UPLOAD_FILES): upload them in parts")
        results: dict[int, UploadResult] = {}
        with self._write_lock:
            store = self.snapshot.store
            manifest = store.manifest()
            known = {info["hash"]: source for source, info in manifest.files.items()}
            accepted: dict[int, SourceFile] = {}
            for i, (filename, data) in enumerate(files):
                try:
                    upload = self._checked_upload(filename, data, manifest.files, known)
                    parse(upload.source, upload.data, upload.suffix, self.config.cleaning)  # refuses a bad file alone
                except CorpusError as exc:
                    results[i] = UploadResult(str(filename)[:200], None, str(exc))
                    continue
                known[content_hash(data)] = upload.source
                accepted[i] = upload
            if accepted:
                store, report = self._indexer_().sync(store, list(accepted.values()), remove_missing=False,
                                                     progress=progress)
                for i, upload in accepted.items():
                    # Persisted only once indexed, so a refused upload leaves no trace.
                    target = self.config.seeds_dir / upload.source
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(upload.data)
                    results[i] = UploadResult(Path(upload.source).name, report, "")
                self._serve(store)
        return [results[i] for i in range(len(files))]

    def _checked_upload(self, filename: str, data: bytes, indexed: dict[str, dict], hashes: dict[str, str]) -> SourceFile:
        name = safe_filename(filename)
        if len(data) > self.config.max_file_bytes:
            raise CorpusError(f"{name}: {len(data):,} bytes is over the {self.config.max_file_bytes:,}-byte upload limit "
                              "(RAG_MAX_FILE_BYTES)")
        if not data.strip():
            raise CorpusError(f"{name}: the file is empty")
        same = hashes.get(content_hash(data))
        if same is not None:
            raise CorpusError(f"{name}: the same content is already indexed as {same}")
        source = f"{UPLOADS}/{name}"
        if source in indexed or source in hashes.values():
            raise CorpusError(f"{name}: a different file with this name is already indexed; rename it")
        return SourceFile(source, data, Path(name).suffix)

    # -- web links and feeds -------------------------------------------------------------------
    def fetch_limits(self) -> FetchLimits:
        c = self.config
        return FetchLimits(timeout=c.fetch_timeout, max_bytes=c.max_file_bytes, max_redirects=c.fetch_max_redirects,
                           private_addresses=c.fetch_private_addresses)

    def add_link(self, url: str) -> AddResult:
        """Fetch a web page, keep it as seeds/imported/web/<name>.md (title, date, publisher and url
        in its header) and index it; answerable at once. A failed fetch changes nothing."""
        url = check_url(url)
        article = fetch_article(url, self.fetch_limits())
        return self._add_files({f"{IMPORTED}/{LINKS}/{link_filename(url)}": article.to_markdown()})

    def add_feed(self, source: str) -> AddResult:
        """Import the entries of an RSS or Atom feed (url or file) not imported before, and index them."""
        feed = import_feed(source, self.config.seeds_dir, self.fetch_limits())
        result = self._add_files(feed.files)
        return AddResult(result.sources, result.report, known=feed.known, failed=feed.failed)

    def _add_files(self, files: dict[str, bytes]) -> AddResult:
        """Index new files (relative name -> bytes), then write them into the seeds folder: a file
        that fails to parse or index is not written, and the index is left as it was."""
        with self._write_lock:
            store = self.snapshot.store
            batch = [SourceFile(name, data, Path(name).suffix) for name, data in files.items()]
            store, report = self._indexer_().sync(store, batch, remove_missing=False)
            for name, data in files.items():
                target = self.config.seeds_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_bytes(data)
                tmp.replace(target)
            self._serve(store)
        return AddResult(sorted(report.added + report.updated), report)

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
            self._serve(store)
        return report

    def documents(self) -> list[DocRecord]:
        return sorted(self.snapshot.documents.values(), key=lambda d: (d.source, d.doc_id))

    # -- questions -------------------------------------------------------------------------
    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]:
        query = self._check(query)
        vector = self.embedder.embed_query(query)
        return self._read(lambda snap: self.retriever.retrieve(snap, query, vector, top_k))

    def prepare(self, question: str, history: list[Any] | None = None) -> AnswerRequest:
        """Validate, condense a follow-up, embed and retrieve: everything before the answer step."""
        question = self._check(question)
        self.snapshot  # noqa: B018  (loads the index before the clock starts, as before)
        earlier = self._earlier(history)
        query = condense(question, earlier, self.config.retrieve)
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()

        def read(snap: Snapshot) -> AnswerRequest:
            t2 = time.perf_counter()
            passages = self.retriever.retrieve(snap, query, vector)
            t3 = time.perf_counter()
            # The answer step reads only what is gathered here (it never queries the index).
            evidence = gather(snap, passages, vector)
            request = AnswerRequest(question, query, passages, vector, evidence, earlier)
            request.timings = {"embed": t1 - t0, "retrieve": t3 - t2, "gather": time.perf_counter() - t3}
            return request

        return self._read(read)

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
        question = clean_text(question).strip()
        if not question:
            raise QuestionError("the question is empty; type a question about the articles")
        if len(question) > self.config.max_question_chars:
            raise QuestionError(
                f"the question is {len(question):,} characters long; the limit is "
                f"{self.config.max_question_chars:,} (RAG_MAX_QUESTION_CHARS)"
            )
        if not has_words(question):
            raise QuestionError("the question has no words, only punctuation or symbols; type a question about the articles")
        script = foreign_script(question)
        if script:
            raise QuestionError(
                f"the question is mostly in {script.title()} letters; the articles and models read English: ask in English"
            )
        return question

    def _earlier(self, history: Any) -> list[str]:
        """The earlier questions that may shape the search: the last `max_history_turns`, each
        cleaned and cut to the question limit (1,000 turns of 1,000 characters made a
        million-character query that spaCy refused mid-answer)."""
        if history is None:
            return []
        if isinstance(history, str):
            history = [history]
        if not isinstance(history, (list, tuple)):
            raise QuestionError(f"history must be a list of earlier questions, not {type(history).__name__}")
        earlier = user_questions(list(history))
        earlier = earlier[len(earlier) - self.config.max_history_turns:] if self.config.max_history_turns > 0 else []
        return [q for q in (clean_text(q).strip()[: self.config.max_question_chars] for q in earlier) if q]

# Names Windows reserves for devices: a seeds folder shared with a Windows machine could not hold them.
_RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
MAX_NAME_CHARS = 120  # of an uploaded file's kept name (the suffix is always kept)


def safe_filename(filename: str) -> str:
    """A plain file name: no folders, no traversal, no hidden files, a supported suffix, no device
    name, at most MAX_NAME_CHARS characters."""
    name = Path(str(filename).replace("\\", "/")).name
    name = re.sub(r"[^\w. -]+", "_", name).strip(" .")  # letters of any script are kept
    suffix = Path(name).suffix
    if suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CorpusError(f"{str(filename)[:200]!r}: unsupported file type {suffix.lower() or '(none)'}; upload {KINDS} files")
    stem = name[: -len(suffix)][: MAX_NAME_CHARS - len(suffix)].rstrip(" .")
    if not stem:
        raise CorpusError(f"{str(filename)[:200]!r}: the file name is empty")
    if stem.split(".")[0].strip().lower() in _RESERVED_NAMES:
        stem = "_" + stem
    return stem + suffix
