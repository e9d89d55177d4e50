"""Reading the seeds folder: files whose size and mtime are the ones recorded at indexing are not
read again, anything else is, and a file modified just now is never vouched for by its stat."""

from __future__ import annotations

import os
import time

from rag.ingest.loaders import content_hash
from rag.store.indexer import read_folder


def _age(path, seconds: float = 60) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_recorded_stat_spares_reading_and_any_change_is_read(tmp_path):
    for name, text in {"a.txt": "Alpha story.", "b.txt": "Bravo story.", "sub/c.md": "Charlie story."}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
        _age(tmp_path / name)
    (tmp_path / ".hidden.txt").write_text("skipped")
    first = read_folder(tmp_path, 10_000)
    assert [f.source for f in first] == ["a.txt", "b.txt", "sub/c.md"]
    assert all(f.data and f.stat for f in first)
    known = {f.source: {"hash": content_hash(f.data), "stat": list(f.stat)} for f in first}

    (tmp_path / "b.txt").write_text("Bravo tale.")  # same size, new bytes, new mtime
    _age(tmp_path / "b.txt", 30)
    again = {f.source: f for f in read_folder(tmp_path, 10_000, known)}
    assert again["a.txt"].data == b"" and again["a.txt"].digest == known["a.txt"]["hash"]
    assert again["a.txt"].read() == b"Alpha story."  # read when it is needed after all (a rebuild)
    assert again["b.txt"].data == b"Bravo tale." and again["b.txt"].digest == ""
    assert again["sub/c.md"].data == b""


def test_a_file_modified_just_now_records_no_stat(tmp_path):
    (tmp_path / "fresh.txt").write_text("Just written.")
    [f] = read_folder(tmp_path, 10_000)
    assert f.data == b"Just written." and f.stat is None
