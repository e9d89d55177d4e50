"""One writer per index folder, across processes: `with index_lock(index_dir): ...`.

An advisory `flock` on `<index_dir>/.lock`, taken without waiting: a second process that tries to
index gets `IndexBusyError` naming the holder's pid at once, rather than queueing behind a rebuild
that may take minutes. The kernel drops the lock when its holder dies, SIGKILL included, so a
crashed indexer never leaves a stale lock behind. Readers (questions) never take it.

Written on fcntl rather than the `filelock` package: filelock cannot tell who holds the lock, and
the message should. Within one process the lock is re-entrant for the thread that holds it (a
repair that rebuilds) and busy for the others; Linux/macOS only (fcntl), like the rest of the app.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IndexBusyError

LOCK_FILE = ".lock"

_held: dict[Path, tuple[int, int, int]] = {}  # lock path -> (owner thread id, depth, fd)
_guard = threading.Lock()


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's writer lock for the block; IndexBusyError when another holds it."""
    path = (Path(index_dir) / LOCK_FILE).resolve()
    me = threading.get_ident()
    with _guard:
        held = _held.get(path)
        if held is not None:
            if held[0] != me:
                raise IndexBusyError(_busy(index_dir, os.getpid()))
            _held[path] = (me, held[1] + 1, held[2])
            fd = -1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise IndexBusyError(_busy(index_dir, holder)) from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            _held[path] = (me, 1, fd)
    try:
        yield
    finally:
        with _guard:
            owner, depth, held_fd = _held[path]
            if depth > 1:
                _held[path] = (owner, depth - 1, held_fd)
            else:
                del _held[path]
                os.close(held_fd)  # closing the descriptor releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or "x")
    except (OSError, ValueError):
        return None


def _busy(index_dir: Path, pid: int | None) -> str:
    who = f"process {pid}" if pid else "another process"
    return (f"the index at {index_dir} is busy: {who} is indexing it; "
            "try again when it has finished (questions are still answered from the current index)")
