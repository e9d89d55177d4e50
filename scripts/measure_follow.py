"""What following the live index costs an embedded-mode reader (README, Running at scale).

    .venv/bin/python scripts/measure_follow.py

Builds the seeds' index in a temp folder, then measures: the folder check a reader makes before a
question (`generations.disk_state`, median of 5 runs of 10,000), against one question answered in
the same run; the disk one generation takes (what keeping the replaced one costs); and the time
one reload of a rebuilt generation takes, against the same question.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.store import generations  # noqa: E402
from rag.store.chroma import Store  # noqa: E402

QUESTION = "What did Japan offer India?"


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dz-follow-") as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(ROOT / "seeds", seeds, ignore=shutil.ignore_patterns("uploads"))
        config = Config.from_env(seeds_dir=seeds, index_dir=Path(tmp) / "index", index_check_seconds=0)
        reader = Pipeline(config)
        reader.index()
        gen = reader.snapshot.store.path
        questions = []
        for _ in range(5):
            t0 = time.perf_counter()
            reader.ask(QUESTION)
            questions.append(time.perf_counter() - t0)
        question = statistics.median(questions)
        checks = [timeit.timeit(lambda: generations.disk_state(config.index_dir, gen), number=10_000) / 10_000
                  for _ in range(5)]
        check = statistics.median(checks)
        print(f"one question (median of 5): {question * 1000:.1f} ms")
        print(f"folder check (median of 5 x 10,000): {check * 1e6:.1f} µs = {check / question:.5f} of a question")
        print(f"one generation of the seeds' index: {folder_bytes(gen) / 1e6:.2f} MB "
              f"({len(reader.documents())} documents, {len(reader.snapshot.chunks)} chunks)")
        Pipeline(config, embedder=reader.embedder).index(rebuild=True)  # another writer publishes
        t0 = time.perf_counter()
        reader.ask(QUESTION)  # checks, loads the new generation, answers
        followed = time.perf_counter() - t0
        assert reader.snapshot.store.path.name == Store.current_name(config.index_dir)
        print(f"question that loads a new generation: {followed * 1000:.1f} ms = {followed / question:.1f}x a question")
        print(f"index folder after a rebuild: {len(list(config.index_dir.glob('gen-*')))} generations, "
              f"{folder_bytes(config.index_dir) / 1e6:.2f} MB in all")


if __name__ == "__main__":
    main()
