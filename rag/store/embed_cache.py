"""Vectors already computed, kept by content: sha256(model fingerprint + text) → float32 vector.

Embedding is what indexing spends its time on (see /work/shared/NOTES.md: ~65 sentences/s on two
cores). The index generations come and go (`index --rebuild` writes a new one, a changed file is
re-chunked), but most of the text they embed was embedded before: this cache sits beside the
generations (`<index_dir>/embed-cache.sqlite`) so that a rebuild, a settings change that keeps the
text, or a file restored after a deletion reuses the vectors instead of recomputing them.

SQLite because it is in the standard library, safe to share between processes, and one lookup of
a few thousand keys costs milliseconds. Values are the exact float32 bytes the model produced, so a
cached vector is identical to a fresh one from the same backend (the ONNX and torch backends agree
to 1 - cos ~1e-7, so they share entries).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

FILENAME = "embed-cache.sqlite"
# Beyond this many vectors (~1.5 KB each for a 384-dimension model) the oldest are dropped.
DEFAULT_MAX_ROWS = 1_000_000
_BATCH = 500  # SQLite's default limit on parameters per statement is 999
_STORE_EVERY = 2048  # texts embedded between two cache writes (~30 s of model work on 2 cores)


def cache_key(model: str, text: str) -> bytes:
    return hashlib.sha256(f"{model}\x00{text}".encode()).digest()


class EmbeddingCache:
    def __init__(self, path: Path, model: str, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.path = Path(path)
        self.model = model
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")  # readers in other processes are not blocked
            db.execute("PRAGMA synchronous=NORMAL")  # a lost cache row only costs a recomputation
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)")
            self._db = db
        return self._db

    def get_many(self, texts: list[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in `texts`; positions missing from the result are misses."""
        keys = [cache_key(self.model, t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            db = self._conn()
            unique = list(dict.fromkeys(keys))
            for lo in range(0, len(unique), _BATCH):
                part = unique[lo : lo + _BATCH]
                rows = db.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                for key, dim, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == dim:  # a torn row is a miss, not an error
                        found[key] = vec
        out = {i: found[k] for i, k in enumerate(keys) if k in found}
        self.hits += len(out)
        self.misses += len(texts) - len(out)
        return out

    def put_many(self, texts: list[str], vectors: np.ndarray) -> None:
        if not texts:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = [(cache_key(self.model, t), int(v.shape[0]), v.tobytes()) for t, v in zip(texts, vectors)]
        with self._lock:
            db = self._conn()
            with db:
                db.executemany("INSERT OR REPLACE INTO vectors (key, dim, vec) VALUES (?, ?, ?)", rows)
            self._prune(db)

    def _prune(self, db: sqlite3.Connection) -> None:
        count = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        if count > self.max_rows:
            with db:  # oldest rows first (rowid grows with insertion)
                db.execute(
                    "DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                    (count - self.max_rows,),
                )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class TextEncoder(Protocol):
    """What embed_with_cache calls: the Embedder, or the bench's adapter for llama-index's model."""

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str], on_slice: Callable[[int], None] | None = None) -> np.ndarray: ...


def embed_with_cache(embedder: TextEncoder, texts: list[str], cache: EmbeddingCache | None,
                     on_slice: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, computing only those the cache lacks (each distinct text once);
    `on_slice(n)` as each n texts are embedded.

    Returns the vectors and how many texts were computed by the model.
    """
    if cache is None:
        return embedder.embed(texts, on_slice), len(texts)
    try:
        hits = cache.get_many(texts)
    except sqlite3.Error as exc:  # a damaged cache only costs recomputation
        log.warning("embedding cache %s unreadable, not used: %s", cache.path, exc)
        hits = {}
    missing = list(dict.fromkeys(t for i, t in enumerate(texts) if i not in hits))
    if on_slice and len(texts) > len(missing):
        on_slice(len(texts) - len(missing))  # cached, or a repeat of a text embedded below: done already
    # Embedded and stored a slice at a time: an interrupted index run (a crash, Ctrl-C) keeps
    # what it computed, and the next run resumes from there. Called even when nothing is
    # missing, so that the model is the one place an embedding failure comes from.
    parts = []
    for lo in range(0, max(1, len(missing)), _STORE_EVERY):
        part = missing[lo : lo + _STORE_EVERY]
        vectors = embedder.embed(part, on_slice)
        parts.append(vectors)
        try:
            cache.put_many(part, vectors)
        except sqlite3.Error as exc:
            log.warning("embedding cache %s not updated: %s", cache.path, exc)
    computed = np.concatenate(parts) if len(parts) > 1 else parts[0]
    by_text = dict(zip(missing, computed))
    dim = computed.shape[1] if len(missing) else (next(iter(hits.values())).shape[0] if hits else embedder.dimension)
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i] = hits[i] if i in hits else by_text[t]
    return out, len(missing)
