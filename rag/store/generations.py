"""Generations of an embedded index folder, as processes that read it see them.

`CURRENT` names the live generation and `PREVIOUS` the one it replaced. Publishing keeps that one
(an app or notebook in another process may still be answering from it until it follows) and
deletes only older ones, so the folder holds up to two complete generations.

A reader follows the live index by comparing `disk_state` (stat calls, nothing parsed) with the
state it last loaded: a new `CURRENT` is a new generation, new table files are an update in place.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CURRENT = "CURRENT"
PREVIOUS = "PREVIOUS"
# The tables a reader watches: the SQLite file and its write-ahead log (a commit changes one or
# the other, rag.store.tables), and schema 4's two files, for a generation that still has them.
TABLES = ("tables.sqlite", "tables.sqlite-wal", "manifest.json", "chunks.jsonl")

# (inode, mtime ns, size) per file; None for a file that is missing. A rewrite by os.replace
# gives the file a new inode, so even a same-size rewrite within the clock's tick is seen.
FileState = tuple[int, int, int] | None
DiskState = tuple[FileState, ...]


def _stat(path: Path) -> FileState:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def disk_state(index_dir: Path, generation: Path) -> DiskState:
    """What a reader of `generation` compares to notice a newer generation or changed tables:
    a few stat calls (three took 39 µs together on a loaded machine, scripts/measure_follow.py), no file is read."""
    return (_stat(index_dir / CURRENT), *(_stat(generation / name) for name in TABLES))


def read_pointer(index_dir: Path, name: str) -> str | None:
    try:
        return (index_dir / name).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def write_pointer(index_dir: Path, name: str, generation: str) -> None:
    """Point `name` at `generation` atomically (rename over the old pointer)."""
    tmp = index_dir / (name + ".tmp")
    tmp.write_text(generation, encoding="utf-8")
    os.replace(tmp, index_dir / name)


def publish(index_dir: Path, generation: Path) -> None:
    """Make `generation` the live one; keep the one it replaced, delete older ones."""
    replaced = read_pointer(index_dir, CURRENT)
    if replaced and replaced != generation.name and (index_dir / replaced).is_dir():
        write_pointer(index_dir, PREVIOUS, replaced)  # (first: a crash in between leaves it harmless)
    write_pointer(index_dir, CURRENT, generation.name)
    keep = {generation.name, read_pointer(index_dir, PREVIOUS)}
    for old in index_dir.glob("gen-*"):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def kept(index_dir: Path) -> set[str]:
    """The generation folders publishing keeps: the live one and the one it replaced."""
    return {n for n in (read_pointer(index_dir, CURRENT), read_pointer(index_dir, PREVIOUS)) if n}


def forget_client(chroma_path: Path) -> None:
    """Make the next `chromadb.PersistentClient(chroma_path)` of this process read the files afresh.

    Chroma keeps one System per path per process, and its HNSW index never sees rows another
    process wrote (measured with chromadb 1.5.9: a reader's query kept returning the old rows,
    deleted ones included, while get() saw the new). Chroma offers only clear_system_cache(),
    which drops every path's System; this drops this one's. Collections already open keep their
    own System and go on answering from the old view until their holders let go of them.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(chroma_path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(chroma_path), None)
