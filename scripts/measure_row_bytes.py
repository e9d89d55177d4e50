"""How much disk an embedded index grows by per sentence row (rag.store.integrity.BYTES_PER_SENTENCE_ROW).

    .venv/bin/python scripts/measure_row_bytes.py

Indexes the seeds in a temp folder, then adds 60 and 300 of the bench's synthetic articles in
two incremental updates, and prints the generation folder's growth per sentence row each time.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.bench.corpus import generate, write_folder  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seeds = tmp / "seeds"
        shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("uploads"))
        config = Config.from_env(seeds_dir=seeds, index_dir=tmp / "index", text_cache_dir=tmp / "cache")
        pipeline = Pipeline(config)
        report = pipeline.index()
        before = folder_bytes(pipeline.snapshot.store.path)
        print(f"seeds: {report.sentences_embedded:,} rows, {before:,} B, {before / report.sentences_embedded:,.0f} B/row")
        for n, seed in ((60, 7), (300, 8)):
            write_folder(generate(n, seed), seeds / f"synthetic-{seed}")
            report = pipeline.index()
            after = folder_bytes(pipeline.snapshot.store.path)
            print(f"+{n} articles: {report.sentences_embedded:,} rows, {after - before:,} B more, "
                  f"{(after - before) / report.sentences_embedded:,.0f} B/row")
            before = after


if __name__ == "__main__":
    main()
