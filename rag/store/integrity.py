"""Check an index folder for damage, clear what interrupted runs left, and name a full disk.

`diagnose` lists what is wrong without changing anything: a `CURRENT` that names no generation, a
table file (`tables.sqlite`: the manifest and chunk table) that is missing, does not parse or fails
SQLite's quick_check, a Chroma database that is missing or holds fewer rows than the manifest lists,
generation folders and temp files left by a run that was killed, vector or entity caches SQLite
cannot read. `Pipeline.repair` (`python -m rag index --repair`) acts on it:
the caches and leftovers are deleted, and an unusable generation is rebuilt from the seeds folder
into a new one (the vector cache makes that cheap), published only when complete.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import IndexCorruptError
from rag.store import generations
from rag.store.chroma import REPAIR_HINT, Store
from rag.store.embed_cache import FILENAME as EMBED_CACHE_FILE
from rag.store.tables import FILENAME as TABLES_FILE
from rag.text.entities import CACHE_FILE as ENTITY_CACHE_FILE

_CACHES = (EMBED_CACHE_FILE, ENTITY_CACHE_FILE)
_FULL_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded",
                errno.EFBIG: "a file grew over the size the system allows"}
# How the libraries under the store word the same conditions (SQLite, Chroma's Rust core).
_FULL_WORDS = {"database or disk is full": "the disk is full", "no space left": "no space left on the device",
               "disk quota exceeded": "the disk quota is exceeded", "file too large": "a file grew over the size the system allows"}


@dataclass
class Diagnosis:
    problems: list[str] = field(default_factory=list)
    store: Store | None = None  # the live generation, opened, when it is usable
    leftovers: list[Path] = field(default_factory=list)  # safe to delete
    bad_caches: list[Path] = field(default_factory=list)  # unreadable: deleted and built again
    stale_rows: list[str] = field(default_factory=list)  # Chroma ids no manifest entry refers to

    @property
    def usable(self) -> bool:
        return self.store is not None


def diagnose(index_dir: Path, collection: str) -> Diagnosis:
    """What is wrong with `index_dir` (nothing is changed)."""
    d = Diagnosis()
    if not index_dir.is_dir():
        d.problems.append(f"{index_dir} holds no index yet")
        return d
    current = Store.current_name(index_dir)
    try:
        d.store = Store.open_current(index_dir, collection)
        if d.store is None:
            d.problems.append(f"{index_dir} has no CURRENT pointer to a complete index")
        else:
            d.store.chunks()
            tables = d.store.path / TABLES_FILE
            # Loading reads every row, but not every page SQLite keeps (indexes, free pages).
            if tables.exists() and not _sqlite_ok(tables):
                raise IndexCorruptError(f"index tables {tables} are damaged (SQLite's quick_check fails)")
    except IndexCorruptError as exc:
        d.store = None
        d.problems.append(str(exc).replace(" " + REPAIR_HINT, ""))
    kept = generations.kept(index_dir)  # the live one and the one it replaced (other readers may hold it)
    for gen in sorted(index_dir.glob("gen-*")):
        if gen.name not in kept:
            d.leftovers.append(gen)
            d.problems.append(f"{gen.name}: a generation an interrupted rebuild left behind")
    in_gen = [*(index_dir / current).glob("*.tmp"), *(index_dir / current).glob("lexical.tmp*")] if current else []
    for tmp in [*index_dir.glob("*.tmp"), *in_gen]:
        d.leftovers.append(tmp)
        d.problems.append(f"{tmp.name}: a temp file an interrupted write left behind")
    for name in _CACHES:
        path = index_dir / name
        if path.exists() and not _sqlite_ok(path):
            d.bad_caches.append(path)
            d.problems.append(f"{name}: unreadable (a cache: it is deleted and filled again)")
    if d.store is not None:
        listed = {sid for doc in d.store.manifest().documents.values() for sid in doc.sentence_ids}
        if d.store.sentences_col.count() > len(listed):
            d.stale_rows = [i for i in d.store.sentences_col.get(include=[])["ids"] if i not in listed]
            if d.stale_rows:
                d.problems.append(f"{len(d.stale_rows):,} sentence vectors left over from an interrupted update")
    return d


def remove_leftovers(d: Diagnosis) -> list[str]:
    """Delete the leftovers and unreadable caches of `d`; the names of what was deleted."""
    import shutil

    removed = []
    for path in [*d.leftovers, *d.bad_caches]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                extra.unlink(missing_ok=True)
        removed.append(path.name)
    if d.store is not None and d.stale_rows:
        d.store.delete(d.stale_rows)
    return removed


# On-disk growth of an embedded index per sentence row added (Chroma's log, metadata and HNSW
# segments plus the tables), measured by scripts/measure_row_bytes.py on the seeds and the bench's
# synthetic articles (2026-12-02, a29f5a6): 7,027 B/row for the seeds' 220 rows, 7,062 for 826
# more, 4,645 for 4,111 more (pages are allocated in steps). The largest is taken.
BYTES_PER_SENTENCE_ROW = 7_100
# Room asked for beyond that growth: Chroma holds a write in its log until it has applied it to its
# segments, so a write's peak exceeds what remains after it. A margin, not a fit: not measured.
WRITE_HEADROOM = 1.5


def space_shortfall(folder: Path, new_rows: int) -> str:
    """Why adding `new_rows` sentence rows under `folder` would fill its disk (in words), else "".

    Checked before an embedded index is touched because Chroma 1.5.9 cannot take a full disk in
    the middle of a write: the rows stay in its log unapplied, every query then tries to apply
    them first and fails, and after two or three failures a query blocks forever in its Rust core,
    even once space is freed (measured on a 3 MB tmpfs). Only a new process recovers.
    """
    import shutil

    needed = int(new_rows * BYTES_PER_SENTENCE_ROW * WRITE_HEADROOM)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""  # (the write itself will say what is wrong with the folder)
    if free >= needed:
        return ""
    return f"the disk is full for this update: {free / 1e6:,.1f} MB free, about {needed / 1e6:,.1f} MB needed"


def disk_full(exc: BaseException) -> str:
    """Why a write failed when it was for lack of space (in words), else ""; follows the chain of causes."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _FULL_ERRNOS:
            return _FULL_ERRNOS[cur.errno]
        text = str(cur).lower()
        for words, reason in _FULL_WORDS.items():
            if words in text:
                return reason
        cur = cur.__cause__ or cur.__context__
    return ""


def _sqlite_ok(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            db.close()
    except sqlite3.Error:
        return False
