"""Entity tagging and embedding of the same stories, one after the other and then at once in two
threads (as rag.store.indexer runs them): the figures behind Indexer._tag_and_embed.

    python scripts/measure_overlap.py ARTICLES.jsonl [N]
"""

from __future__ import annotations

import json
import sys
import threading
import time

import rag  # noqa: F401  (offline environment first)
from rag.config import Config
from rag.store.embeddings import Embedder
from rag.text.entities import ner_pipeline
from rag.text.sentences import sentence_spans


def main(path: str, n: int) -> None:
    with open(path, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line, _ in zip(fh, range(n))]
    sentences = [t[s:e] for t in texts for s, e in sentence_spans(t)]
    embedder = Embedder.from_config(Config.from_env())
    embedder.warm_up()
    nlp = ner_pipeline()
    list(nlp.pipe(texts[:5]))  # first calls load and allocate: not part of the figures
    embedder.embed(sentences[:64])

    def tag() -> float:
        t = time.perf_counter()
        list(nlp.pipe(texts, batch_size=16))
        return time.perf_counter() - t

    def embed() -> float:
        t = time.perf_counter()
        embedder.embed(sentences)
        return time.perf_counter() - t

    print(f"{n} stories, {len(sentences)} sentences, embedding model {embedder.name}")
    a, b = tag(), embed()
    print(f"in turn: tagging {a:.1f} s + embedding {b:.1f} s = {a + b:.1f} s")
    tagged: list[float] = []
    t0 = time.perf_counter()
    thread = threading.Thread(target=lambda: tagged.append(tag()))
    thread.start()
    e = embed()
    thread.join()
    print(f"at once: {time.perf_counter() - t0:.1f} s wall (tagging {tagged[0]:.1f} s, embedding {e:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200)
