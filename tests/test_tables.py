"""The manifest and chunk table as SQLite rows (rag.store.tables): an update writes only the rows
that changed, readers see the old version or the new one, and a failed write leaves the tables
as they were. Real SQLite files; the failure is SQLite's own (a trigger that aborts)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from rag.schema import Chunk, DocRecord
from rag.store.tables import TableFile


def doc(i: int, text_hash: str = "h") -> tuple[DocRecord, list[Chunk]]:
    d = f"d{i:03d}"
    chunks = [Chunk(f"{d}:c{k}", d, f"text {i} {k} {text_hash}", k * 10, k * 10 + 9, f"Title {i}") for k in range(2)]
    rec = DocRecord(d, f"Title {i}", f"s{i}.txt", "Pub", "2024-01-01", text_hash, 20, [c.chunk_id for c in chunks],
                    [f"{d}:{text_hash}:s0"], entities=[[0, 4, "ORG"]])
    return rec, chunks


def corpus(n: int, edited: set[int] = frozenset()) -> tuple[dict, dict, list[Chunk]]:
    files, docs, chunks = {}, {}, []
    for i in range(n):
        rec, cs = doc(i, "h2" if i in edited else "h")
        files[rec.source] = {"hash": rec.content_hash, "doc_ids": [rec.doc_id]}
        docs[rec.doc_id] = rec
        chunks += cs
    return files, docs, chunks


def written(tf: TableFile) -> list[str]:
    """Statements that change rows, as SQLite runs them (one per row for executemany)."""
    log: list[str] = []
    tf._conn().set_trace_callback(lambda sql: log.append(sql) if sql.split()[0] in ("INSERT", "DELETE") else None)
    return log


def test_an_update_writes_only_the_rows_that_changed(tmp_path):
    tf = TableFile(tmp_path / "tables.sqlite", create=True)
    v1 = tf.write(None, 5, {"schema": 5}, *corpus(100))
    log = written(tf)
    files, docs, chunks = corpus(100, edited={7})
    # Unchanged records come from the version read, as the indexer carries them over.
    for d, rec in v1.documents.items():
        if d != "d007":
            docs[d] = rec
    del files["s50.txt"], docs["d050"]
    chunks = [c for c in chunks if c.doc_id != "d050"]
    v2 = tf.write(v1, 5, {"schema": 5}, files, docs, chunks)
    rows = [s for s in log if " files " in s or " documents " in s]
    assert len(rows) == 4, rows  # d007's file and document rows, d050's two deletions
    assert any("d007" in s for s in rows) and sum("d050" in s or "s50.txt" in s for s in rows) == 2
    again = TableFile(tmp_path / "tables.sqlite").load()  # what another process reads
    assert again.documents == v2.documents and again.files == v2.files and again.chunks == v2.chunks
    assert "d050" not in again.documents and again.documents["d007"].content_hash == "h2"
    assert again.write_id == v2.write_id != v1.write_id
    log.clear()
    assert tf.write(v2, 5, {"schema": 5}, files, dict(v2.documents), chunks) is v2  # nothing changed: nothing written
    assert log == []


def test_chunks_come_in_one_order_whoever_wrote_them(tmp_path):
    files, docs, chunks = corpus(20)
    tf = TableFile(tmp_path / "tables.sqlite", create=True)
    mine = tf.write(None, 5, {}, files, docs, list(reversed(chunks)))
    theirs = TableFile(tmp_path / "tables.sqlite").load()
    assert [c.chunk_id for c in mine.chunks] == [c.chunk_id for c in theirs.chunks] == [c.chunk_id for c in chunks]


def test_a_reader_sees_the_old_version_or_the_new_never_half(tmp_path):
    path = tmp_path / "tables.sqlite"
    tf = TableFile(path, create=True)
    v1 = tf.write(None, 5, {}, *corpus(200))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM documents WHERE record LIKE '%\"h2\"%'").fetchone()[0] == 0
    # Rewrite every document while the reader's transaction is open, and while other threads load.
    seen: list[set[str]] = []
    stop = threading.Event()

    def load() -> None:
        other = TableFile(path)
        while not stop.is_set():
            seen.append({r.content_hash for r in other.load().documents.values()})

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    files, docs, chunks = corpus(200, edited=set(range(200)))
    tf.write(v1, 5, {}, files, docs, chunks)
    stop.set()
    for t in threads:
        t.join()
    # The open read transaction still sees version 1, whole; after it, version 2, whole.
    assert reader.execute("SELECT count(*) FROM documents WHERE record LIKE '%\"h2\"%'").fetchone()[0] == 0
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM documents WHERE record LIKE '%\"h2\"%'").fetchone()[0] == 200
    assert seen and all(s in ({"h"}, {"h2"}) for s in seen)


def test_a_failed_write_leaves_the_tables_as_they_were(tmp_path):
    path = tmp_path / "tables.sqlite"
    tf = TableFile(path, create=True)
    v1 = tf.write(None, 5, {"schema": 5}, *corpus(30))
    db = sqlite3.connect(path)
    db.execute("CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.doc_id = 'd029' "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    db.commit()
    db.close()
    files, docs, chunks = corpus(30, edited={3, 29})  # d003's rows are written before d029's fail
    with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
        tf.write(v1, 5, {"schema": 5}, files, docs, chunks)
    for reader in (tf, TableFile(path)):
        now = reader.load()
        assert now.write_id == v1.write_id
        assert now.documents["d003"].content_hash == "h" and now.files == v1.files and now.chunks == v1.chunks


def test_a_missing_table_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="tables.sqlite is missing"):
        TableFile(tmp_path / "tables.sqlite")
