"""The index on a Chroma server (`RAG_CHROMA_URL`), shared by every app and indexer process.

The server is the single source of truth; nothing an app process needs is kept only on its disk.
On the server, for `Config.collection` ("dossier"):

- the head collection `dossier`: its metadata names the live generation, the index version
  (bumped by every write), the index settings, the embedding model and its dimension; its one
  record, `lock`, is the writer lock (a lease);
- per generation `<gen>-s`: the sentence vectors (as in the embedded store), and `<gen>-t`: one
  record per article file holding its hash, documents (manifest entries) and chunks, so the
  manifest, the chunk table and so the BM25 index can be rebuilt from the server alone.

BM25 stays in the app process: chromadb 1.5.9's local and single-node servers refuse sparse
indexes ("Sparse vector indexing is not enabled in local"). Each `ServerStore` is an immutable view
of one version of the tables; `is_current()` (one round trip) tells a reader when to load the next.

Writes: rows, then tables, then the version, all under the lock, after checking that the version
is still the one the write was planned from (else `IndexChangedError`, and the indexer plans
again). A reader may load tables while a writer is at work: each file's record is written whole
and its sentences before it, so what it loads is consistent per file, and the version bump that
ends the write makes it load again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.config import Config
from rag.errors import IndexChangedError, IndexMismatchError, StoreAuthError, StoreBusyError, StoreUnavailable
from rag.schema import Chunk, DocRecord
from rag.store.chroma import HNSW_SETTINGS, SCHEMA_VERSION, Manifest, Store

log = logging.getLogger(__name__)

_LOCK_ID = "lock"
_DUMMY = [1.0]  # the head and table records carry no meaning in their vectors; Chroma needs one
_PAGE = 500  # table records per request (a record holds a file's documents and chunks, ~20 KB)
_LOCK_POLL = 0.25  # seconds between two tries for a held lock


def is_server(config: Config) -> bool:
    return bool(config.chroma_url)


class Connection:
    """One HttpClient per server address, with Chroma's and httpx's errors made user errors."""

    _clients: dict[tuple, Any] = {}
    _clients_lock = threading.Lock()

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.chroma_url.rstrip("/")
        self.where = f"the Chroma server at {config.redact(self.url)}"  # (messages never show a password)

    def client(self) -> Any:
        cfg = self.config
        key = (self.url, cfg.chroma_tenant, cfg.chroma_database, cfg.chroma_token, cfg.chroma_token_header, cfg.chroma_ca_file)
        with self._clients_lock:
            hit = self._clients.get(key)
        if hit is not None:
            return hit
        import chromadb
        from chromadb.config import Settings

        parts = urlsplit(self.url)
        tls = parts.scheme == "https"
        headers = {}
        if cfg.chroma_token:
            bearer = cfg.chroma_token_header.lower() == "authorization"
            headers[cfg.chroma_token_header] = f"Bearer {cfg.chroma_token}" if bearer else cfg.chroma_token
        settings = Settings(anonymized_telemetry=False, chroma_server_ssl_verify=cfg.chroma_ca_file or None)
        client = self.call(
            "connect",
            lambda: chromadb.HttpClient(
                host=parts.hostname or "localhost",
                port=parts.port or (443 if tls else 80),
                ssl=tls,
                headers=headers,
                settings=settings,
                tenant=cfg.chroma_tenant,
                database=cfg.chroma_database,
            ),
        )
        with self._clients_lock:
            self._clients[key] = client
        return client

    def call(self, what: str, fn):
        """fn(), with a failure to reach or to be let in by the server said plainly."""
        try:
            return fn()
        except (StoreUnavailable, StoreAuthError, IndexChangedError):
            raise
        except Exception as exc:
            raise self.translate(what, exc) from exc

    def translate(self, what: str, exc: Exception) -> Exception:
        import httpx
        from chromadb.errors import AuthorizationError, ChromaAuthError, NotFoundError

        text = self.config.redact(str(exc))  # a server or proxy may echo the token it was sent
        if isinstance(exc, (ChromaAuthError, AuthorizationError)) or any(
            w in text for w in ("401", "403", "Unauthorized", "Forbidden", "AuthorizationError")
        ):
            return StoreAuthError(
                f"{self.where} refused the credentials ({what}: {text.strip()[:120]}); "
                "set RAG_CHROMA_TOKEN (and RAG_CHROMA_TOKEN_HEADER if it expects another header)"
            )
        # (HttpClient() itself turns a refused connection into ValueError("Could not connect ..."))
        if isinstance(exc, (httpx.TransportError, ConnectionError, OSError)) or "Could not connect" in text:
            return StoreUnavailable(
                f"{self.where} is not reachable ({what}: {type(exc).__name__}: {text[:120]}); "
                f"start it (chroma run --path <folder> --port {urlsplit(self.url).port or 8000}) or fix RAG_CHROMA_URL"
            )
        if isinstance(exc, NotFoundError):
            return IndexChangedError(
                f"the index on {self.where} was replaced or deleted meanwhile ({what}: {text[:120]}); try again"
            )
        return StoreUnavailable(f"{self.where} failed ({what}: {type(exc).__name__}: {text[:160]})")

    def collection(self, name: str, create: bool = False, metadata: dict | None = None) -> Any:
        client = self.client()
        if create:
            col = self.call("create collection", lambda: client.get_or_create_collection(
                name, embedding_function=None, metadata=metadata))
        else:
            col = self.call("open collection", lambda: client.get_collection(name, embedding_function=None))
        return _Guarded(col, self)

    def head_meta(self) -> dict | None:
        """The head collection's metadata, or None when nothing was indexed on this server yet."""
        from chromadb.errors import NotFoundError

        client = self.client()
        try:
            col = client.get_collection(self.config.collection, embedding_function=None)
        except NotFoundError:
            return None
        except Exception as exc:
            raise self.translate("read the index version", exc) from exc
        meta = dict(col.metadata or {})
        return meta if meta.get("generation") else None

    def delete_collection(self, name: str) -> None:
        from chromadb.errors import NotFoundError

        client = self.client()
        try:
            client.delete_collection(name)
        except NotFoundError:
            pass
        except Exception as exc:
            log.warning("could not delete the old collection %s on %s: %s", name, self.where, self.config.redact(str(exc)))


class _Guarded:
    """A Chroma collection whose every call reports server failures as StoreUnavailable/StoreAuthError."""

    def __init__(self, col: Any, conn: Connection) -> None:
        self._col = col
        self._conn = conn

    @property
    def metadata(self) -> Any:
        return self._col.metadata

    @property
    def name(self) -> str:
        return self._col.name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._col, name)
        if not callable(attr):
            return attr
        return lambda *a, **k: self._conn.call(name, lambda: attr(*a, **k))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _head_name(config: Config) -> str:
    return config.collection


def _slug(config: Config) -> str:
    key = f"{config.chroma_url.rstrip('/')}|{config.chroma_tenant}|{config.chroma_database}|{config.collection}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def origin(config: Config) -> str:
    """Which folder a file came from: a folder sync in server mode removes only its own files,
    never those another process indexed from its folder or an upload."""
    return f"{socket.gethostname()}:{Path(config.seeds_dir).resolve()}"


class ServerStore(Store):
    """One version of one generation of the index on a Chroma server (see the module doc)."""

    def __init__(self, config: Config, generation: str, head: dict | None, fresh: bool = False) -> None:
        self.config = config
        self.conn = Connection(config)
        # Local cache of what is derived from the tables (the BM25 index), keyed by their signature.
        super().__init__(config.index_dir / "server" / _slug(config) / generation, generation + "-s")
        self.generation = generation
        self.base = head  # the head metadata this view was loaded from (None: no index yet)
        self.fresh = fresh
        self._manifest: Manifest | None = None
        self._chunks: list[Chunk] = []
        self._parsed: dict[str, tuple[str, dict]] = {}  # source -> (record digest, record)
        self._signature = ""
        self._lock_token: str | None = None
        self._lock_at = 0.0
        self._head_col: Any = None
        self._next_head: dict | None = None
        self._old_generation: str | None = None
        self._dim = int(head.get("embed_dim", 0)) if head else 0
        self.tables_col: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def open_live(cls, config: Config, previous: ServerStore | None = None) -> ServerStore | None:
        """The live version on the server, or None when nothing was indexed there yet.
        `previous` (an older view of the same generation) lends its parsed records."""
        conn = Connection(config)
        for _ in range(5):
            head = conn.head_meta()
            if head is None:
                return None
            store = cls(config, str(head["generation"]), head)
            try:
                store.open()
                store._load(previous if previous is not None and previous.generation == store.generation else None)
            except IndexChangedError:
                time.sleep(0.2)  # rebuilt meanwhile: read the new generation
                continue
            for old in store.path.parent.glob("*-g*"):  # local BM25 caches of replaced generations
                if old.name != store.path.name and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
            return store
        raise IndexChangedError(f"the index on {conn.where} kept being replaced while it was read; try again")

    @classmethod
    def create_fresh(cls, config: Config, base: dict | None) -> ServerStore:
        """A new, empty generation; live only once publish() runs, and only if the live version
        is still `base`, the one the rebuild was planned on (see planned_on)."""
        head = base
        gen = f"{config.collection}-g{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        store = cls(config, gen, head, fresh=True)
        store.open(create=True)
        store._adopt({}, {})
        return store

    def open(self, create: bool = False) -> None:
        self.sentences_col = self.conn.collection(self.generation + "-s", create=create, metadata=HNSW_SETTINGS)
        self.tables_col = self.conn.collection(self.generation + "-t", create=create)

    def reopen(self) -> ServerStore | None:
        return ServerStore.open_live(self.config, self)

    def is_current(self) -> bool:
        """Whether this view is still the live version (one round trip)."""
        head = self.conn.head_meta()
        return head is not None and self.base is not None and (
            head.get("generation"), head.get("version")) == (self.base.get("generation"), self.base.get("version"))

    @property
    def version(self) -> int:
        return int(self.base.get("version", 0)) if self.base else 0

    def _load(self, previous: ServerStore | None) -> None:
        """Read the tables: every file's record digest first, then the records not already parsed."""
        metas: dict[str, dict] = {}
        for offset in range(0, 10**9, _PAGE * 10):
            got = self.tables_col.get(include=["metadatas"], limit=_PAGE * 10, offset=offset)
            metas.update(zip(got["ids"], got["metadatas"]))
            if len(got["ids"]) < _PAGE * 10:
                break
        known = previous._parsed if previous is not None else {}
        parsed = {s: known[s] for s, m in metas.items() if s in known and known[s][0] == m.get("sha")}
        want = [s for s in metas if s not in parsed]
        for lo in range(0, len(want), _PAGE):
            got = self.tables_col.get(ids=want[lo: lo + _PAGE], include=["documents"])
            for source, text in zip(got["ids"], got["documents"]):
                parsed[source] = (_sha(text), json.loads(text))
        self._adopt(parsed, json.loads(self.base["settings"]) if self.base else {})

    def _adopt(self, parsed: dict[str, tuple[str, dict]], settings: dict) -> None:
        """Take `parsed` (source -> (record digest, record)) as this view's tables. Chunks are in
        the order of sorted sources, so that a saved BM25 index matches the rows it numbers."""
        manifest = Manifest(settings=settings)
        chunks: list[Chunk] = []
        for source in sorted(parsed):
            entry = parsed[source][1]
            manifest.files[source] = entry["file"]
            for d in entry["documents"]:
                manifest.documents[d["doc_id"]] = DocRecord(**d)
            chunks.extend(Chunk(**c) for c in entry["chunks"])
        self._parsed, self._manifest, self._chunks = parsed, manifest, chunks
        self._signature = hashlib.sha256(
            json.dumps([self.generation, sorted((s, d) for s, (d, _) in parsed.items()), settings],
                       sort_keys=True).encode()
        ).hexdigest()[:32]

    # -- tables: the server's, read once per version ------------------------------------------
    def manifest(self) -> Manifest:
        assert self._manifest is not None
        return self._manifest

    def chunks(self) -> list[Chunk]:
        return self._chunks

    def tables_signature(self) -> str:
        return self._signature

    def write_tables(self, manifest: Manifest, chunks: list[Chunk]) -> None:
        """Write the records of the files that changed and delete those of removed files (under
        writing(), so the base these changes were computed from is still the live one)."""
        assert self._lock_token is not None, "write_tables runs under writing()"
        by_doc: dict[str, list[dict]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(asdict(c))
        old = {} if self.fresh else self._parsed
        parsed: dict[str, tuple[str, dict]] = {}
        ids, texts, metas = [], [], []
        for source, info in manifest.files.items():
            hit = old.get(source)
            if hit is not None and hit[1]["file"] == info:
                parsed[source] = hit
                continue
            entry = {"file": info, "documents": [asdict(manifest.documents[d]) for d in info["doc_ids"]],
                     "chunks": [c for d in info["doc_ids"] for c in by_doc.get(d, [])]}
            text = json.dumps(entry, ensure_ascii=False)
            parsed[source] = (_sha(text), entry)
            ids.append(source)
            texts.append(text)
            metas.append({"hash": str(info["hash"]), "origin": str(info.get("origin", "")), "sha": parsed[source][0]})
        for lo in range(0, len(ids), _PAGE):
            self._renew()
            self.tables_col.upsert(ids=ids[lo: lo + _PAGE], documents=texts[lo: lo + _PAGE],
                                   metadatas=metas[lo: lo + _PAGE], embeddings=[_DUMMY] * len(ids[lo: lo + _PAGE]))
        gone = [s for s in old if s not in manifest.files]
        for lo in range(0, len(gone), _PAGE):
            self.tables_col.delete(ids=gone[lo: lo + _PAGE])
        self._settings = manifest.settings
        self._adopt(parsed, manifest.settings)

    def add_sentences(self, ids, rows, vectors) -> None:
        if len(vectors):
            self._dim = int(vectors.shape[1])
        for lo in range(0, len(ids), 2000):
            self._renew()
            super().add_sentences(ids[lo: lo + 2000], rows[lo: lo + 2000], vectors[lo: lo + 2000])

    def _count(self) -> int:
        # Not cached for the store's life as in the embedded store: other processes add rows.
        if self._row_count is None or time.monotonic() - getattr(self, "_counted_at", 0.0) > 1.0:
            self._row_count = self.sentences_col.count()
            self._counted_at = time.monotonic()
        return self._row_count

    def publish(self, index_dir: Path) -> None:
        """Make this (fresh) generation the live one when writing() ends."""
        self._old_generation = str(self.base["generation"]) if self.base else None

    def discard(self) -> None:
        for suffix in ("-s", "-t"):
            self.conn.delete_collection(self.generation + suffix)

    # -- the writer lock and version check ----------------------------------------------------
    def _head(self) -> Any:
        if self._head_col is None:
            # (get_or_create leaves an existing collection's metadata as it is: chromadb 1.5.9, checked)
            self._head_col = self.conn.collection(_head_name(self.config), create=True,
                                                  metadata={"dossier": SCHEMA_VERSION})
        return self._head_col

    def _live(self) -> dict:
        head = self._head()
        return dict(self.conn.call("read the index version", lambda: self.conn.client().get_collection(
            head.name, embedding_function=None).metadata) or {})

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the server's writer lock; refuse (IndexChangedError) when the index changed since
        this view was loaded; on success bump the version, which tells every reader to reload."""
        self._acquire()
        try:
            live = self._live()
            base = self.base or {}
            log.info("writer lock %s on %s: planned on %s v%s, live %s v%s", self._lock_token, self.conn.url,
                     base.get("generation"), base.get("version"), live.get("generation"), live.get("version"))
            if (live.get("generation"), live.get("version")) != (base.get("generation"), base.get("version")):
                raise IndexChangedError(
                    f"another process changed the index on {self.conn.where} (version {base.get('version', 0)} → "
                    f"{live.get('version', 0)}) while this run prepared its changes"
                )
            yield
            settings = getattr(self, "_settings", None) or json.loads(live.get("settings") or "{}")
            head = {
                "dossier": SCHEMA_VERSION,
                "generation": self.generation,
                "version": int(live.get("version", 0)) + 1,
                "settings": json.dumps(settings, sort_keys=True),
                "embed_model": str(settings.get("embed_model", "")),
                "embed_dim": self._dim,
                "updated": time.time(),
            }
            self._renew()
            self._head().modify(metadata=head)
            self.base = head
        finally:
            self._release()
        if self._old_generation and self._old_generation != self.generation:
            for suffix in ("-s", "-t"):
                self.conn.delete_collection(self._old_generation + suffix)

    def _acquire(self) -> None:
        cfg = self.config
        head = self._head()
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + cfg.chroma_lock_wait
        while True:
            # add() keeps the first record of an id and ignores later ones (chromadb 1.5.9,
            # checked): of two writers adding at once, one wins, and reading it back says which.
            head.add(ids=[_LOCK_ID], embeddings=[_DUMMY], documents=["writer lock"],
                     metadatas=[{"owner": token, "expires": time.time() + cfg.chroma_lock_seconds}])
            got = head.get(ids=[_LOCK_ID], include=["metadatas"])
            meta = got["metadatas"][0] if got["ids"] else None
            if meta is not None and meta.get("owner") == token:
                self._lock_token, self._lock_at = token, time.monotonic()
                return
            if meta is not None and float(meta.get("expires", 0)) < time.time():
                # An expired lease (a writer that died): delete it only if it is still that one.
                log.warning("taking over the expired writer lock of %s on %s", meta.get("owner"), self.conn.url)
                head.delete(ids=[_LOCK_ID], where={"owner": meta.get("owner")})
                continue
            if time.monotonic() > deadline:
                raise StoreBusyError(
                    f"another process ({meta.get('owner') if meta else '?'}) has been writing to the index on "
                    f"{self.conn.where} for over {cfg.chroma_lock_wait:.0f} s; try again when it is done"
                )
            time.sleep(_LOCK_POLL)

    def _renew(self) -> None:
        """Extend the lease while a long write goes on (at most every tenth of its length)."""
        if self._lock_token is None or time.monotonic() - self._lock_at < self.config.chroma_lock_seconds / 10:
            return
        head = self._head()
        got = head.get(ids=[_LOCK_ID], include=["metadatas"])
        if not got["ids"] or got["metadatas"][0].get("owner") != self._lock_token:
            raise IndexChangedError(f"this run lost the writer lock on {self.conn.where} (it expired); try again")
        head.upsert(ids=[_LOCK_ID], embeddings=[_DUMMY], documents=["writer lock"],
                    metadatas=[{"owner": self._lock_token, "expires": time.time() + self.config.chroma_lock_seconds}])
        self._lock_at = time.monotonic()

    def _release(self) -> None:
        token, self._lock_token = self._lock_token, None
        if token is None:
            return
        try:
            self._head().delete(ids=[_LOCK_ID], where={"owner": token})
        except Exception as exc:  # the lease expires by itself
            log.warning("could not release the writer lock on %s: %s", self.conn.url, exc)

    # -- compatibility -----------------------------------------------------------------------
    def check_compatible(self, settings: dict, dimension: int) -> None:
        """IndexMismatchError when the shared index was built with another model, dimension or
        settings: in server mode it is never rebuilt behind the other processes' backs."""
        head = self.base or {}
        built = self.manifest().settings
        model, dim = str(head.get("embed_model", "")), int(head.get("embed_dim", 0))
        where = f"collection {self.config.collection!r} on {self.conn.where}"
        fix = ("use the same RAG_EMBED_MODEL, another RAG_COLLECTION, or replace it for everyone with "
               "`python -m rag index --rebuild`")
        if model != settings.get("embed_model") or (dim and dimension and dim != dimension):
            raise IndexMismatchError(
                f"the {where} was built with the embedding model {model} ({dim} dimensions); this process "
                f"embeds with {settings.get('embed_model')} ({dimension} dimensions): {fix}"
            )
        if built != settings:
            keys = sorted(k for k in set(built) | set(settings) if built.get(k) != settings.get(k))
            raise IndexMismatchError(f"the {where} was built with other settings ({', '.join(keys)}): {fix}")


def open_current(config: Config) -> Store | None:
    """The live index: the embedded generation under index_dir, or the server's."""
    if is_server(config):
        return ServerStore.open_live(config)
    return Store.open_current(config.index_dir, config.collection)


def planned_on(config: Config, store: Store | None) -> dict | None:
    """Server mode: the version a sync plans on (the head it read), taken before it prepares
    anything, so that a new generation made later is published only over that version. (Read at
    publish time instead, a second first indexer replaced the first one's index with its own.)"""
    if isinstance(store, ServerStore):
        return store.base
    return Connection(config).head_meta() if is_server(config) else None


def create(config: Config, base: dict | None = None) -> Store:
    """A new, empty generation (live once published; server mode: over version `base` only)."""
    if is_server(config):
        return ServerStore.create_fresh(config, base)
    return Store.create(config.index_dir, config.collection)
