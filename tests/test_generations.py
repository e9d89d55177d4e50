"""Readers in one process while another replaces or updates the index (embedded mode): publishing
keeps the generation it replaced, and a reader notices a new generation or rewritten tables and
follows, or reopens the live one when the generation it held was deleted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_config

from rag.pipeline import Pipeline
from rag.store import generations
from rag.store.chroma import Store

ROOT = Path(__file__).resolve().parent.parent
JAPAN = "What did Japan offer India?"
QUILLON = "How many deep-water berths did the Quillon harbour authority approve?"
LATE = ("Late news\n\nThe Quillon harbour authority approved two deep-water berths on Monday, at a cost of "
        "12 million euros.\n")


def fake_generation(index_dir: Path, name: str) -> Path:
    gen = index_dir / name
    gen.mkdir(parents=True)
    for table in generations.TABLES:
        (gen / table).write_text(name, encoding="utf-8")
    return gen


def gens(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


def test_publish_keeps_the_generation_it_replaced_and_deletes_older_ones(tmp_path):
    a = fake_generation(tmp_path, "gen-a")
    Store(a, "dossier").publish(tmp_path)
    assert gens(tmp_path) == ["gen-a"] and generations.kept(tmp_path) == {"gen-a"}
    b, c = fake_generation(tmp_path, "gen-b"), fake_generation(tmp_path, "gen-c")
    Store(b, "dossier").publish(tmp_path)
    assert Store.current_name(tmp_path) == "gen-b" and generations.kept(tmp_path) == {"gen-a", "gen-b"}
    assert gens(tmp_path) == ["gen-a", "gen-b"]  # c was an unpublished (half-written) one
    c = fake_generation(tmp_path, "gen-c")
    Store(c, "dossier").publish(tmp_path)
    assert gens(tmp_path) == ["gen-b", "gen-c"] and generations.kept(tmp_path) == {"gen-b", "gen-c"}
    assert not list(tmp_path.glob("*.tmp"))


def test_disk_state_changes_with_a_new_generation_rewritten_tables_or_a_deleted_folder(tmp_path):
    a = fake_generation(tmp_path, "gen-a")
    generations.publish(tmp_path, a)
    seen = generations.disk_state(tmp_path, a)
    assert generations.disk_state(tmp_path, a) == seen  # nothing changed: nothing noticed
    tmp = a / "chunks.jsonl.tmp"
    tmp.write_text("gen-a", encoding="utf-8")  # same bytes, same size: only the inode tells
    os.replace(tmp, a / "chunks.jsonl")
    assert generations.disk_state(tmp_path, a) != seen
    seen = generations.disk_state(tmp_path, a)
    generations.publish(tmp_path, fake_generation(tmp_path, "gen-b"))
    assert generations.disk_state(tmp_path, a) != seen
    seen = generations.disk_state(tmp_path, a)
    shutil.rmtree(a)
    assert generations.disk_state(tmp_path, a) != seen


def env_for(config) -> dict[str, str]:
    return {**os.environ, "RAG_SEEDS_DIR": str(config.seeds_dir), "RAG_INDEX_DIR": str(config.index_dir),
            "RAG_TEXT_CACHE_DIR": str(config.text_cache_dir)}


def cli(config, *args: str) -> None:
    res = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env_for(config),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]


class Readers:
    """Threads asking questions in a loop through the Python API, recording every outcome."""

    def __init__(self, pipeline: Pipeline, threads: int = 2) -> None:
        self.pipeline, self.stop = pipeline, threading.Event()
        self.results: list[tuple[float, str, str, set[str]]] = []  # (started, question, error, cited sources)
        self.threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(threads)]

    def _loop(self, i: int) -> None:
        n = i
        while not self.stop.is_set():
            question = (JAPAN, QUILLON)[n % 2]
            n += 1
            started = time.monotonic()
            try:
                answer = self.pipeline.ask(question)
                self.results.append((started, question, "", {c.source for c in answer.citations}))
            except Exception as exc:  # recorded: the test asserts there are none
                self.results.append((started, question, f"{type(exc).__name__}: {exc}", set()))

    def __enter__(self) -> Readers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


@pytest.mark.slow
def test_a_reader_follows_rebuilds_and_updates_another_process_writes(tmp_path, embedder):
    """One process answers questions in two threads while other processes run `index --rebuild`
    three times and an incremental `index` after a file was added: no question fails, and once
    the writer has returned the reader answers from what it wrote."""
    config = make_config(tmp_path, index_check_seconds=0.5)
    reader = Pipeline(config, embedder=embedder)
    reader.index()
    assert "late.txt" not in reader.ask(QUILLON).citations
    served = [reader.snapshot.store.path.name]
    with Readers(reader) as readers:
        for _ in range(3):
            cli(config, "index", "--rebuild")
            live = Store.current_name(config.index_dir)
            assert live not in served and len(gens(config.index_dir)) == 2  # the live one and the one it replaced
            time.sleep(config.index_check_seconds)
            for _ in range(20):  # the next question loads it (or another thread is loading it)
                if reader.ask(JAPAN).citations and reader.snapshot.store.path.name == live:
                    break
            assert reader.snapshot.store.path.name == live
            served.append(live)

        (config.seeds_dir / "late.txt").write_text(LATE, encoding="utf-8")
        cli(config, "index")  # an update in place of the live generation
        assert Store.current_name(config.index_dir) == served[-1]
        time.sleep(config.index_check_seconds)
        for _ in range(20):
            if "late.txt" in {c.source for c in reader.ask(QUILLON).citations}:
                break
        followed = time.monotonic()
        assert any(d.source == "late.txt" for d in reader.documents())
        for _ in range(3000):  # let the threads ask a few more (bounded: a hang still fails)
            if sum(r[0] > followed and r[1] == QUILLON for r in readers.results) >= 2:
                break
            time.sleep(0.1)
    errors = [r for r in readers.results if r[2]]
    assert not errors, errors[:3]
    later = [r for r in readers.results if r[0] > followed and r[1] == QUILLON]
    assert later and all("late.txt" in r[3] for r in later)  # once followed, never back
    assert len(readers.results) > 20


@pytest.mark.slow
def test_a_reader_whose_generation_was_deleted_reopens_the_live_one(tmp_path, embedder):
    """The reader does not check the folder on its own here (a check interval of an hour): its
    generation is replaced and then deleted by hand under it, and the next question still
    gets its answer, from the live generation."""
    config = make_config(tmp_path, index_check_seconds=3600)
    reader = Pipeline(config, embedder=embedder)
    reader.index()
    old = reader.snapshot.store.path
    (config.seeds_dir / "late.txt").write_text(LATE, encoding="utf-8")
    Pipeline(config, embedder=embedder).index(rebuild=True)  # another writer (in-process: same code as the CLI's)
    assert old.is_dir() and reader.snapshot.store.path == old  # kept for it, and not followed yet
    assert reader.ask(JAPAN).citations
    shutil.rmtree(old)
    answer = reader.ask(QUILLON)
    assert "late.txt" in {c.source for c in answer.citations}
    assert reader.snapshot.store.path.name == Store.current_name(config.index_dir)
    assert reader.retrieve(JAPAN)
