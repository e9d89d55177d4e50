"""Time `Pipeline.index()` stage by stage on a large synthetic corpus: nothing changed, 1% of the
files changed with a sentence whose vectors are cached, and 1% changed with a new sentence.

    .venv/bin/python scripts/measure_reindex.py --size 10000 --workdir bench-work --cache bench-cache.sqlite

The first run builds the index (vectors and entity spans go into the caches, so later runs and
rebuilds after a schema change cost no model work for unchanged text). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import rag  # noqa: F401  (offline environment first)
from rag.bench.corpus import generate, write_folder
from rag.bench.worker import CHANGE_MARK
from rag.config import Config
from rag.pipeline import Pipeline
from rag.store.embed_cache import EmbeddingCache
from rag.store.indexer import Indexer, read_folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="embedding cache (SQLite), kept between runs")
    ap.add_argument("--text-cache", type=Path, help="folder of the entity cache (default: WORKDIR/caches)")
    ap.add_argument("--percent", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=2, help="timed runs of each case (the best is reported too)")
    args = ap.parse_args()

    folder = write_folder(generate(args.size), args.workdir / "corpus")
    config = Config.from_env(seeds_dir=folder, index_dir=args.workdir / "index",
                             text_cache_dir=args.text_cache or args.workdir / "caches", collection="reindex")
    p = Pipeline(config)
    p.embedder.warm_up()
    ix = Indexer(config, p.embedder, cache=EmbeddingCache(args.cache, p.embedder.fingerprint))
    p = Pipeline(config, embedder=p.embedder, indexer=ix)
    out: dict = {"size": args.size}

    t0 = time.perf_counter()
    report = p.index()  # builds (or brings up to date) the index; later steps start from a served snapshot
    out["build"] = {"seconds": round(time.perf_counter() - t0, 2), "documents": report.documents,
                    "embedded_by_model": ix.timings.get("embedded_by_model"), "stages": _stages(ix)}

    # The models a new sentence needs, loaded as in a running app (a fresh `rag index` process
    # pays this once; reported apart).
    t0 = time.perf_counter()
    ix.tagger.warm_up()
    out["tagger_load_s"] = round(time.perf_counter() - t0, 2)

    paths = sorted(folder.glob("*.txt"))
    step = max(1, round(100 / args.percent))
    chosen = paths[::step]
    originals = {path: path.read_text(encoding="utf-8") for path in chosen}

    def timed(label: str) -> dict:
        t0 = time.perf_counter()
        files = read_folder(config.seeds_dir, config.max_file_bytes)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = p.index()
        total = time.perf_counter() - t0
        # seconds = reading and hashing the folder + sync_s (Indexer.sync: its stages) + the snapshot
        return {"case": label, "seconds": round(total, 3), "read_folder_s": round(read_s, 3), "sync_s": round(rep.seconds, 3),
                "snapshot_s": round(total - rep.seconds - read_s, 3), "files": len(files),
                "updated": len(rep.updated), "pieces": rep.sentences_embedded,
                "embedded_by_model": ix.timings.get("embedded_by_model"), "stages": _stages(ix)}

    def change(sentence: str) -> None:
        for path, text in originals.items():
            path.write_text(text.rstrip("\n") + f"\n\n{sentence} {path.stem}.\n", encoding="utf-8")

    def restore() -> None:
        for path, text in originals.items():
            path.write_text(text, encoding="utf-8")

    runs = []
    try:
        for _ in range(args.runs):
            runs.append(timed("unchanged"))
        change(CHANGE_MARK)
        p.index()  # the bench's sentence: its vectors are cached from here on
        restore()
        p.index()
        for _ in range(args.runs):
            change(CHANGE_MARK)
            runs.append(timed("changed, cached sentence"))
            restore()
            p.index()
        for _ in range(args.runs):
            change(f"{CHANGE_MARK} (reference {uuid.uuid4().int % 10**8}) about")
            runs.append(timed("changed, new sentence"))
            restore()
            p.index()
    finally:
        restore()
    out["runs"] = runs
    out["best"] = {case: min(r["seconds"] for r in runs if r["case"] == case) for case in dict.fromkeys(r["case"] for r in runs)}
    print(json.dumps(out, indent=1))


def _stages(ix: Indexer) -> dict:
    return {k: round(v, 3) for k, v in ix.timings.items() if k != "embedded_by_model"}


if __name__ == "__main__":
    main()
