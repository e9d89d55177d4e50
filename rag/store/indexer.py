"""Bring the index in line with a corpus folder: embed only new or changed documents.

Every fallible step (reading, decoding, cleaning, chunking, embedding) runs before the store is
touched, so a bad file or a crash leaves the previous index as it was.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.config import Config
from rag.errors import CorpusError, IndexChangedError, IndexWriteError, RagError
from rag.ingest.chunking import Chunker
from rag.ingest.cleaning import CLEANER_VERSION
from rag.ingest.loaders import content_hash, corpus_paths, parse, read_bytes
from rag.schema import DocRecord, Document, IndexReport, Progress, SentenceRow
from rag.store.chroma import SCHEMA_VERSION, Manifest, Store, sentence_id
from rag.store.embed_cache import FILENAME as EMBED_CACHE_FILE
from rag.store.embed_cache import EmbeddingCache, embed_with_cache
from rag.store.embeddings import Embedder
from rag.store.integrity import disk_full, space_shortfall
from rag.store.lock import index_lock
from rag.store.server import create as create_store
from rag.store.server import is_server, open_current, origin, planned_on
from rag.text.entities import CACHE_FILE as ENTITY_CACHE_FILE
from rag.text.entities import Entity, EntityTagger, tagger_fingerprint
from rag.text.sentences import segment_spans, sentence_spans
from rag.tunables import CleaningTunables, IndexingTunables

log = logging.getLogger(__name__)

_READ_REPORT_EVERY = 50  # files read between two progress reports (hashing a file takes microseconds)
# Tries of one sync when another process writes to a shared (server) index meanwhile; each retry
# re-plans against the new version, its vectors and entities coming from the caches.
_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class SourceFile:
    """One article file's bytes, from disk or from an upload."""

    source: str  # name relative to the corpus folder; shown in citations
    data: bytes
    suffix: str
    digest: str = ""  # content hash when already known (files kept as they are)
    # A folder file: where it is (its bytes are read when needed when `data` was not read), and
    # its (size, mtime_ns) when they can vouch for its bytes next time (see read_folder).
    path: str = ""
    stat: tuple[int, int] | None = None
    max_bytes: int = 0

    def read(self) -> bytes:
        if self.data or not self.path:
            return self.data
        return read_bytes(Path(self.path), self.max_bytes)


# A file modified this recently may change again within the file system's timestamp granularity
# without its mtime moving, so its stat is not recorded (git's "racy" rule; FAT's 2 s is the coarsest).
_RACY_SECONDS = 2.0


def read_folder(folder: Path, max_bytes: int, known: Mapping[str, dict] | None = None) -> list[SourceFile]:
    """Every article file of `folder`. With `known` (a manifest's files), a file whose size and
    modification time are the ones recorded when it was indexed is not read: its recorded hash
    stands for its bytes (reading and hashing 10k unchanged files took ~0.6 s of every update)."""
    out = []
    now = time.time_ns()
    prefix = len(str(folder).rstrip(os.sep)) + 1  # (corpus_paths joins its paths onto `folder`)
    for p in corpus_paths(folder):
        source = p[prefix:]
        suffix = os.path.splitext(p)[1]
        info = known.get(source) if known else None
        try:
            st = os.stat(p)
        except OSError:
            st = None  # (a broken link: read_bytes says what is wrong)
        stat = (st.st_size, st.st_mtime_ns) if st is not None else None
        if info is not None and stat is not None and info.get("stat") == list(stat):
            out.append(SourceFile(source, b"", suffix, digest=info["hash"], path=p, stat=stat, max_bytes=max_bytes))
            continue
        data = read_bytes(Path(p), max_bytes)
        safe = stat is not None and now - stat[1] > _RACY_SECONDS * 1e9
        out.append(SourceFile(source, data, suffix, path=p, stat=stat if safe else None, max_bytes=max_bytes))
    return out


def index_settings(config: Config, embedder: Embedder) -> dict:
    """What the stored vectors depend on; any change forces a full rebuild."""
    return {
        "schema": SCHEMA_VERSION,
        "embed_model": embedder.name,
        "chunk_tokens": config.chunk_tokens,
        "chunk_overlap": config.chunk_overlap,
        "cleaner": CLEANER_VERSION,
        "entities": tagger_fingerprint(),
        # Only when changed, so that the indexes built before the cleaning tunables existed stay valid.
        **({"cleaning": asdict(config.cleaning)} if config.cleaning != CleaningTunables() else {}),
        **({"indexing": asdict(config.indexing)} if config.indexing != IndexingTunables() else {}),
    }


@dataclass(frozen=True)
class FileChanges:
    """A folder's files against a manifest's (see file_changes)."""

    fresh: dict[str, str]  # new or changed source -> its content hash
    gone: list[str]  # known sources the files no longer hold
    # Unchanged files whose size and mtime could not vouch for their bytes when they were indexed
    # (written within the racy window: a folder indexed right after it was copied) and can now:
    # recorded, or every later update reads and hashes them all again (0.3-0.5 s of each
    # re-index at 10k files, scripts/measure_reindex.py).
    restat: dict[str, list[int]]


def file_changes(known: dict[str, dict], files: list[SourceFile]) -> FileChanges:
    """Against `known` (a manifest's files): the sources in `files` that are new or changed, with
    their content hashes, the known sources `files` no longer holds, and the unchanged files
    whose stat can now be recorded. Nothing is parsed."""
    digests = {f.source: f.digest or content_hash(f.data) for f in files}
    fresh = {s: d for s, d in digests.items() if known.get(s, {}).get("hash") != d}
    restat = {f.source: list(f.stat) for f in files if f.stat and f.source not in fresh
              and f.source in known and known[f.source].get("stat") != list(f.stat)}
    return FileChanges(fresh, [s for s in known if s not in digests], restat)


def _counter(stage: str, total: int, progress: Progress) -> Callable[[int], None]:
    """A callback that adds up work done in steps and reports the running total."""
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(stage, min(done, total), total)

    return step


class Indexer:
    def __init__(self, config: Config, embedder: Embedder, cache: EmbeddingCache | bool | None = True) -> None:
        """`cache`: True keeps vectors in `<index_dir>/embed-cache.sqlite` (reused by rebuilds and
        by unchanged text), an `EmbeddingCache` to share one elsewhere, False/None for none."""
        self.config = config
        self.embedder = embedder
        self._chunker: Chunker | None = None
        caches = config.text_cache_dir or config.index_dir
        if cache is True:
            cache = EmbeddingCache(caches / EMBED_CACHE_FILE, embedder.fingerprint)
        # (not `cache or None`: an empty cache has len() 0 and is falsy)
        self.cache: EmbeddingCache | None = cache if isinstance(cache, EmbeddingCache) else None
        # Entity spans are cached by text beside the vectors (same lifetime, same reasons).
        self.tagger = EntityTagger(caches / ENTITY_CACHE_FILE if self.cache is not None else None)
        # Seconds per stage of the last sync (for the benchmark and logs).
        self.timings: dict[str, float] = {}
        # Server mode: the folder this indexer's files come from (kept with each file), and how
        # many syncs had to plan again because another process wrote first.
        self.origin = origin(config) if is_server(config) else ""
        self.retries = 0

    @property
    def chunker(self) -> Chunker:
        # Built on first use: it imports llama-index (seconds on a loaded 2-core machine), which a
        # start-up sync that finds nothing changed never needs.
        if self._chunker is None:
            self._chunker = Chunker(self.config.chunk_tokens, self.config.chunk_overlap)
        return self._chunker

    def settings(self) -> dict:
        """What this indexer's vectors and annotations depend on (see index_settings)."""
        return index_settings(self.config, self.embedder)

    def owns(self, info: dict) -> bool:
        """Whether a folder sync may remove this file (a manifest's files entry) when its folder
        no longer holds it: in server mode only files from this indexer's own folder."""
        return info.get("origin", "") == self.origin

    def sync(
        self,
        store: Store | None,
        files: list[SourceFile],
        *,
        remove_missing: bool = True,
        progress: Progress | None = None,
        remove_foreign: bool = False,
    ) -> tuple[Store, IndexReport]:
        """Index `files` into `store` (or a new generation when there is none or settings changed).

        With remove_missing=False (uploads), documents from files not listed are kept; with
        remove_foreign=False, so are those another process's folder or upload brought (server mode).
        Returns the live store and what changed. `progress(stage, done, total)` is told how far
        reading the files, tagging the new stories and embedding their sentences have got.
        One writer at a time per index folder (IndexBusyError for the second, rag.store.lock); a
        write that fails for lack of space is an IndexWriteError, the previous index intact.
        """
        return self._locked(store, lambda current: self._sync(
            current, files, remove_missing=remove_missing, progress=progress, remove_foreign=remove_foreign))

    def _locked(self, store: Store | None, attempt_with: Callable[[Store | None], tuple[Store, IndexReport]]):
        """attempt_with(store) under the index folder's lock, a full disk said plainly, and in
        server mode planned again on the new version each time another process wrote first."""
        index_dir = self.config.index_dir
        with index_lock(index_dir):
            if store is not None and not is_server(self.config) and Store.current_name(index_dir) != store.path.name:
                # Another process published a new generation since `store` was opened: build on it.
                store = Store.open_current(index_dir, self.config.collection)
            try:
                return self._retrying(store, attempt_with)
            except RagError:
                raise
            except Exception as exc:
                reason = disk_full(exc)
                if not reason:
                    raise
                raise IndexWriteError(
                    f"could not write the index at {index_dir}: {reason} ({type(exc).__name__}); the previous "
                    "index is still serving. Free some space, then run `python -m rag index` again."
                ) from exc

    def _retrying(self, store: Store | None, attempt_with: Callable[[Store | None], tuple[Store, IndexReport]]):
        """attempt_with(store), planned again on the new version each time another process wrote
        to a shared index first (only a server store raises IndexChangedError)."""
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                return attempt_with(store)
            except IndexChangedError as exc:
                if attempt == _WRITE_ATTEMPTS:
                    raise
                log.info("index changed by another process; planning again (%s)", exc)
                self.retries += 1
                # Against the version now live, also when this run began with none (two first
                # indexers: the second merges into the first's; a rebuild that lost the race too).
                store = open_current(self.config)
        raise AssertionError("unreachable")

    def _sync(
        self,
        store: Store | None,
        files: list[SourceFile],
        *,
        remove_missing: bool,
        progress: Progress | None,
        remove_foreign: bool,
    ) -> tuple[Store, IndexReport]:
        report_progress = progress or (lambda stage, done, total: None)
        base = planned_on(self.config, store)  # (server mode: the version this plan is made on)
        t0 = time.perf_counter()
        timings = self.timings = {}
        settings = self.settings()
        current = None if store is None else store.manifest()  # parsed once
        fresh = current is None or current.settings != settings
        old = current if current is not None and not fresh else Manifest(settings=settings)

        by_source = {f.source: f for f in files}
        if len(by_source) != len(files):
            raise CorpusError("two files share one name; rename one of them")
        found = file_changes(old.files, files)
        digests, gone, restat = found.fresh, found.gone, found.restat
        changed: dict[str, tuple[str, list[Document]]] = {}
        for i, f in enumerate(files, 1):
            if f.source in digests:
                # (f.read(): a file the folder scan trusted by its stat is read now, e.g. for a rebuild)
                docs = parse(f.source, f.read(), f.suffix, self.config.cleaning)  # raises CorpusError naming the file
                changed[f.source] = (digests[f.source], docs)
            if i % _READ_REPORT_EVERY == 0 or i == len(files):
                report_progress("read", i, len(files))
        removed_sources = [s for s in gone if remove_foreign or self.owns(old.files[s])] if remove_missing else []
        t1 = time.perf_counter()
        timings["clean"] = t1 - t0

        new_docs = [d for _, docs in changed.values() for d in docs]
        new_chunks = [c for d in new_docs for c in self.chunker.split(d)] if new_docs else []
        t2 = time.perf_counter()
        timings["chunk"] = t2 - t1
        rows: list[SentenceRow] = []
        sent_ids: list[str] = []
        for d in new_docs:
            for s, e in sentence_spans(d.text):
                if e - s < self.config.indexing.min_sentence_chars:  # headings, "Then there's Russia."
                    continue
                for a, b in segment_spans(d.text, s, e, self.config.indexing):
                    rows.append(SentenceRow(d.doc_id, s, e, d.text[s:e], a, b))
                    sent_ids.append(sentence_id(rows[-1]))
        t3 = time.perf_counter()
        timings["sentences"] = t3 - t2
        entities, sent_vecs, computed = self._tag_and_embed(new_docs, rows, report_progress)
        t4 = time.perf_counter()
        timings["tag_and_embed"] = t4 - t3
        timings["embedded_by_model"] = computed

        # Nothing has touched the store up to here. From now on: add new rows, publish the
        # tables, then delete stale rows (rows not in the chunk table are ignored by retrieval).
        target = store if store is not None and not fresh else create_store(self.config, base)
        try:
            manifest = Manifest(settings=settings, files=dict(old.files), documents=dict(old.documents))
            stale_sources = set(removed_sources) | set(changed)
            stale_docs = {d for s in stale_sources for d in old.files.get(s, {}).get("doc_ids", [])}
            # A row's id names its content (rag.store.chroma.sentence_id): rows an edit left as
            # they were (the other sentences of an edited story, the related stories of an edited
            # page) keep their ids, so they are neither added again nor deleted. Re-adding them
            # was part of the 12-14 s write stage of a 1%-of-10k update (Chroma writes ~1,000-1,600 rows/s).
            kept_ids = {sid for d in stale_docs for sid in old.documents[d].sentence_ids}
            readded = set(sent_ids)
            stale_sents = [sid for sid in kept_ids if sid not in readded]
            to_add = [i for i, sid in enumerate(sent_ids) if sid not in kept_ids]
            for source, recorded in restat.items():
                manifest.files[source] = {**manifest.files[source], "stat": recorded}
            for source in stale_sources:
                manifest.files.pop(source, None)
            for d in stale_docs:
                manifest.documents.pop(d, None)
            # (a map, not a scan of every file's ids per new story: quadratic at 10k files)
            owners = {d: s for s, f in manifest.files.items() for d in f["doc_ids"]}
            for source, (digest, docs) in changed.items():
                for d in docs:
                    owner = owners.get(d.doc_id)
                    if owner is not None:
                        raise CorpusError(f"{source}: document id {d.doc_id!r} is already used by {owner}; rename the file")
                stat = by_source[source].stat
                manifest.files[source] = {"hash": digest, "doc_ids": [d.doc_id for d in docs],
                                          **({"stat": list(stat)} if stat else {}),
                                          **({"origin": self.origin} if self.origin else {})}
                owners.update((d.doc_id, source) for d in docs)
            chunk_ids_by_doc: dict[str, list[str]] = {}
            for c in new_chunks:
                chunk_ids_by_doc.setdefault(c.doc_id, []).append(c.chunk_id)
            sent_ids_by_doc: dict[str, list[str]] = {}
            for sid, r in zip(sent_ids, rows):
                sent_ids_by_doc.setdefault(r.doc_id, []).append(sid)
            for d, ents in zip(new_docs, entities):
                manifest.documents[d.doc_id] = DocRecord(
                    doc_id=d.doc_id,
                    title=d.title,
                    source=d.source,
                    publisher=d.publisher,
                    date=d.date,
                    content_hash=d.content_hash,
                    chars=len(d.text),
                    chunk_ids=chunk_ids_by_doc.get(d.doc_id, []),
                    sentence_ids=sent_ids_by_doc.get(d.doc_id, []),
                    aside_names=list(d.aside_names),
                    entities=[[e.start, e.end, e.label] for e in ents],
                    url=d.url,
                    page_starts=list(d.page_starts),
                    encoding=d.encoding,
                )
            if changed or removed_sources or fresh or restat:
                # The chunk table is read only when it has to be rewritten: a sync that finds
                # nothing changed never parses it.
                old_chunks = [] if fresh else target.chunks()
                all_chunks = [c for c in old_chunks if c.doc_id not in stale_docs] + new_chunks
                n_chunks = len(all_chunks)
            else:
                all_chunks = None
                n_chunks = sum(len(d.chunk_ids) for d in manifest.documents.values())

            t_plan = time.perf_counter()
            timings["plan"] = t_plan - t4
            if not is_server(self.config):
                short = space_shortfall(target.path, len(to_add))
                if short:
                    raise IndexWriteError(
                        f"could not write the index at {self.config.index_dir}: {short}; the previous index "
                        "is still serving. Free some space, then run `python -m rag index` again.")
            with target.writing():  # server mode: the writer lock, and the version still the planned one
                if not fresh:
                    target.widen_search()  # an index from before the wider search gets it at its next run
                if to_add:
                    target.add_sentences([sent_ids[i] for i in to_add], [rows[i] for i in to_add],
                                         sent_vecs if len(to_add) == len(rows) else sent_vecs[to_add])
                t_rows = time.perf_counter()
                timings["write_vectors"] = t_rows - t_plan
                if all_chunks is not None:
                    target.write_tables(manifest, all_chunks)
                t_tables = time.perf_counter()
                timings["write_tables"] = t_tables - t_rows
                if fresh:
                    target.publish(self.config.index_dir)
                elif stale_sents:
                    target.delete(stale_sents)
                timings["delete_vectors"] = time.perf_counter() - t_tables
        except BaseException:
            if fresh:
                target.discard()
            raise

        report = IndexReport(
            added=sorted(s for s in changed if s not in old.files),
            updated=sorted(s for s in changed if s in old.files),
            removed=sorted(removed_sources),
            unchanged=len(files) - len(changed),
            chunks_embedded=len(new_chunks),
            sentences_embedded=len(rows),
            documents=len(manifest.documents),
            chunks=n_chunks,
            seconds=time.perf_counter() - t0,
        )
        timings["write"] = time.perf_counter() - t4
        log.info("index: %s", report)
        return target, report

    def _tag_and_embed(self, docs: list[Document], rows: list[SentenceRow],
                       progress: Progress) -> tuple[list[list[Entity]], np.ndarray, int]:
        """Entity spans of `docs` and vectors of `rows` (with how many the model computed), the two
        at once: spaCy's tagger runs on one core in a thread while the model embeds (ONNX Runtime
        releases the GIL while it runs). One after the other left a core idle for the whole
        tagging stage: on 200 BBC stories, 18.9 s in turn against 14.0 s at once (int8 model,
        2 cores; scripts/measure_overlap.py)."""
        def tag() -> list[list[Entity]]:
            t = time.perf_counter()
            try:
                return self.tagger.tag([d.text for d in docs], _counter("annotate", len(docs), progress)) if docs else []
            finally:
                self.timings["annotate"] = time.perf_counter() - t

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-tag") as pool:
            tagging = pool.submit(tag)
            t = time.perf_counter()
            try:
                vectors, computed = embed_with_cache(self.embedder, [r.segment for r in rows], self.cache,
                                                     _counter("embed", len(rows), progress) if rows else None)
            finally:
                self.timings["embed"] = time.perf_counter() - t
                # (an embedding failure still waits for the tagger: the pool's exit joins it)
            return tagging.result(), vectors, computed

    def rebuild(self, files: list[SourceFile], progress: Progress | None = None) -> tuple[Store, IndexReport]:
        """Index everything into a new generation; the old one stays live until this succeeds."""
        return self.sync(None, files, progress=progress)

    def remove(self, store: Store, sources: Iterable[str]) -> tuple[Store, IndexReport]:
        """Drop the given files' documents; the other files count as unchanged (no bytes needed)."""
        drop = set(sources)

        def attempt(current: Store | None) -> tuple[Store, IndexReport]:
            assert current is not None
            files = current.manifest().files
            keep = [SourceFile(s, b"", "", digest=f["hash"]) for s, f in files.items() if s not in drop]
            return self._sync(current, keep, remove_missing=True, progress=None, remove_foreign=True)

        return self._locked(store, attempt)
