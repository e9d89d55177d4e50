"""The manifest and the chunk table as rows of one SQLite file per generation (`tables.sqlite`).

Why rows: the manifest (every story's record, entity spans included) and the chunk table were two
JSON files rewritten whole by every update (with Chroma's re-adds, the write stage of a 1%-of-10k
update took 12-14 s here). Here a sync writes only the rows that changed, in one transaction: WAL journaling
lets readers in other processes go on reading the version they started with, and they see the
next only once it is committed whole, never half of it. A failed write (a full disk, a kill)
rolls back and leaves the previous tables.

Rows: `files` (source -> its manifest entry), `documents` (doc_id -> DocRecord and that story's
chunks, which change only with it), `meta` (format version, settings, and the id of the last
write, which names each version: see `Tables.signature`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.schema import Chunk, DocRecord

FILENAME = "tables.sqlite"
_BUSY_WAIT_S = 30  # for a lock another process holds (hand-set: writing all 10k stories' rows took 4 s here)
_CHECKPOINT_WAIT_MS = 1000  # for readers to leave the old version before the log is emptied (hand-set)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (doc_id TEXT PRIMARY KEY, record TEXT NOT NULL, chunks TEXT NOT NULL);
"""


@dataclass
class Tables:
    """One committed version of the tables, parsed (shared between readers: treat as read-only)."""

    version: int
    settings: dict[str, Any]
    files: dict[str, dict[str, Any]]
    documents: dict[str, DocRecord]
    chunks_by_doc: dict[str, list[Chunk]]
    write_id: str = ""  # a new one per committed write: "" for tables never written
    _chunks: list[Chunk] | None = field(default=None, repr=False)

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk, stories in doc_id order (the same order whoever loads or writes them, so
        that a BM25 index saved by one process numbers the rows another one reads)."""
        if self._chunks is None:
            self._chunks = [c for d in sorted(self.chunks_by_doc) for c in self.chunks_by_doc[d]]
        return self._chunks


class TableFile:
    """The SQLite file of one generation's tables: one connection, shared by the threads of a process."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self.path = path
        if not create and not path.exists():
            raise FileNotFoundError(f"{path.name} is missing")
        self._lock = threading.Lock()
        # isolation_level=None: transactions are begun and ended here, explicitly.
        self._db: sqlite3.Connection | None = sqlite3.connect(path, check_same_thread=False, timeout=_BUSY_WAIT_S,
                                                              isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed update survives a power cut too (one fsync per sync: milliseconds).
        self._db.execute("PRAGMA synchronous=FULL")
        if create:
            self._db.executescript(_SCHEMA)
        self._seen: tuple[int, Tables] | None = None  # (data_version, tables) of the last load

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError(f"{self.path} is closed")
        return self._db

    def load(self) -> Tables:
        """The committed tables, parsed only when they changed since the last load (another
        process's commit changes SQLite's data_version; this connection's own writes are adopted)."""
        with self._lock:
            db = self._conn()
            stamp = db.execute("PRAGMA data_version").fetchone()[0]
            if self._seen is not None and self._seen[0] == stamp:
                return self._seen[1]
            db.execute("BEGIN")  # one read transaction: every row from the same version
            try:
                meta = dict(db.execute("SELECT key, value FROM meta"))
                if self._seen is not None and meta.get("write_id") == self._seen[1].write_id:
                    tables = self._seen[1]
                else:
                    tables = Tables(
                        version=int(meta["version"]),
                        settings=json.loads(meta["settings"]),
                        files={s: json.loads(info) for s, info in db.execute("SELECT source, info FROM files")},
                        documents={},
                        chunks_by_doc={},
                        write_id=meta.get("write_id", ""),
                    )
                    for doc_id, record, chunks in db.execute("SELECT doc_id, record, chunks FROM documents"):
                        tables.documents[doc_id] = DocRecord(**json.loads(record))
                        tables.chunks_by_doc[doc_id] = [Chunk(**c) for c in json.loads(chunks)]
            finally:
                db.execute("COMMIT")
            self._seen = (stamp, tables)
            return tables

    def write(self, old: Tables | None, version: int, settings: dict[str, Any], files: dict[str, dict[str, Any]],
              documents: dict[str, DocRecord], chunks: list[Chunk]) -> Tables:
        """Make the tables hold exactly `files`, `documents` and `chunks`, writing only the rows
        that differ from `old` (the version these were planned from; None: write every row), in
        one transaction. Returns the new version (the old one when nothing differs)."""
        by_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(c)
        for doc_chunks in by_doc.values():
            doc_chunks.sort(key=lambda c: c.start)
        prev_files = old.files if old is not None else {}
        prev_docs = old.documents if old is not None else {}
        prev_chunks = old.chunks_by_doc if old is not None else {}
        file_rows = [(s, json.dumps(info, ensure_ascii=False)) for s, info in files.items() if prev_files.get(s) != info]
        gone_files = [(s,) for s in prev_files if s not in files]
        doc_rows = []
        for doc_id, rec in documents.items():
            mine = by_doc.get(doc_id, [])
            if not (_same(prev_docs.get(doc_id), rec) and _same_list(prev_chunks.get(doc_id), mine)):
                doc_rows.append((doc_id, json.dumps(asdict(rec), ensure_ascii=False),
                                 json.dumps([asdict(c) for c in mine], ensure_ascii=False)))
        gone_docs = [(d,) for d in prev_docs if d not in documents]
        meta_changed = old is None or old.settings != settings or old.version != version
        if not (file_rows or gone_files or doc_rows or gone_docs or meta_changed):
            return old  # type: ignore[return-value]  # (old is None makes meta_changed true)
        write_id = uuid.uuid4().hex
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                if old is None:  # every row is written: none of an earlier version may stay
                    db.execute("DELETE FROM files")
                    db.execute("DELETE FROM documents")
                db.executemany("INSERT OR REPLACE INTO files (source, info) VALUES (?, ?)", file_rows)
                db.executemany("DELETE FROM files WHERE source = ?", gone_files)
                db.executemany("INSERT OR REPLACE INTO documents (doc_id, record, chunks) VALUES (?, ?, ?)", doc_rows)
                db.executemany("DELETE FROM documents WHERE doc_id = ?", gone_docs)
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [
                    ("version", str(version)), ("settings", json.dumps(settings, sort_keys=True)), ("write_id", write_id)])
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            # Move the commit into the main file now and empty the log, rather than after 1,000
            # pages: the file on its own then holds the tables (damage to it is found at open, a
            # copy of it is whole). It waits for readers still on the old version, at most
            # _CHECKPOINT_WAIT_MS; past that the log stays, which is as safe, only not tidy.
            db.execute(f"PRAGMA busy_timeout={_CHECKPOINT_WAIT_MS}")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute(f"PRAGMA busy_timeout={_BUSY_WAIT_S * 1000}")
            tables = Tables(version, settings, dict(files), dict(documents), by_doc, write_id)
            # This connection's own commit: adopted as parsed (the next load sees the same data_version).
            self._seen = (db.execute("PRAGMA data_version").fetchone()[0], tables)
        return tables


def _same(a: Any, b: Any) -> bool:
    # Unchanged records are carried over as the same objects: identity first, equality for the rest.
    return a is b or (a is not None and a == b)


def _same_list(a: list | None, b: list) -> bool:
    if a is None:
        return not b
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))
