"""One benchmark job per process: `python -m rag.bench.worker JOB '<json args>'`.

Jobs: ingest, serve, cold (ours); baseline_ingest, baseline_serve (llama-index defaults).
Each prints its result as JSON on a line starting with RESULT_MARK (see measure.py).
"""

from __future__ import annotations

import time

T_PROCESS = time.time()  # before any import: the cold-start clock (with the parent's spawn time)

import json  # noqa: E402
import logging  # noqa: E402
import queue  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import rag  # noqa: E402, F401  (offline environment first)
from rag.bench.measure import emit, peak_rss_mb, percentiles, run_threads  # noqa: E402

if TYPE_CHECKING:  # (each job imports what it needs, so the cold-start clock sees real imports)
    from rag.config import Config
    from rag.pipeline import Pipeline
    from rag.retrieve.retrieval import Snapshot
    from rag.store.embeddings import Embedder
    from rag.store.indexer import Indexer

CHANGE_MARK = "A late correction to this report was issued by the newsroom"


def _config(args: dict[str, Any]) -> Config:
    from rag.config import Config

    # With RAG_CHROMA_URL the index is on a Chroma server: one collection per corpus there.
    return Config.from_env(seeds_dir=Path(args["corpus"]), index_dir=Path(args["index"]),
                           collection=f"bench-{Path(args['index']).parent.name}")


def _indexer(config: Config, embedder: Embedder, cache_path: str | None) -> Indexer:
    from rag.store.embed_cache import EmbeddingCache
    from rag.store.indexer import Indexer

    cache = EmbeddingCache(Path(cache_path), embedder.fingerprint) if cache_path else False
    return Indexer(config, embedder, cache=cache)


def job_ingest(args: dict[str, Any]) -> dict[str, Any]:
    """Index from nothing, stage by stage; then re-index with nothing and with 1% changed."""
    from rag.pipeline import Pipeline
    from rag.retrieve.retrieval import build_snapshot
    from rag.store.indexer import read_folder
    from rag.store.server import open_current

    config = _config(args)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    p = Pipeline(config)
    p.embedder.warm_up()
    out["model_load_s"] = time.perf_counter() - t0
    ix = _indexer(config, p.embedder, args.get("cache"))
    p = Pipeline(config, embedder=p.embedder, indexer=ix)

    t0 = time.perf_counter()
    files = read_folder(config.seeds_dir, config.max_file_bytes)
    read_s = time.perf_counter() - t0
    store, report = ix.sync(None, files)
    stages = {"read": read_s, **{k: v for k, v in ix.timings.items() if k != "embedded_by_model"}}
    t0 = time.perf_counter()
    snap = build_snapshot(store)
    stages["bm25"] = time.perf_counter() - t0
    out.update(stages={k: round(v, 3) for k, v in stages.items()}, documents=report.documents, chunks=report.chunks,
               pieces=report.sentences_embedded, embedded_by_model=ix.timings.get("embedded_by_model"),
               index_total_s=round(read_s + report.seconds + stages["bm25"], 3), peak_rss_index_mb=peak_rss_mb())
    out["wordpieces"] = _wordpieces(p.embedder, snap)
    out["backend"] = p.embedder.backend

    # A new process would open the store and load the saved BM25 index instead of rebuilding it.
    t0 = time.perf_counter()
    reopened = open_current(config)
    assert reopened is not None, "the index just built is not published"
    build_snapshot(reopened)
    out["snapshot_open_s"] = round(time.perf_counter() - t0, 3)

    p._snapshot = snap
    t0 = time.perf_counter()
    again = p.index()
    out["reindex_unchanged_s"] = round(time.perf_counter() - t0, 3)
    assert not again.changed

    # 1% of the files get one more sentence (the same one every run, so its vectors get cached).
    paths = sorted(config.seeds_dir.glob("*.txt"))
    step = max(1, round(100 / max(0.01, args.get("change_percent", 1.0))))
    chosen = paths[::step][: max(1, len(paths) // step)]
    originals = {path: path.read_text(encoding="utf-8") for path in chosen}
    for path, text in originals.items():
        path.write_text(text.rstrip("\n") + f"\n\n{CHANGE_MARK} {path.stem}.\n", encoding="utf-8")
    try:
        t0 = time.perf_counter()
        changed = p.index()
        out["reindex_changed_s"] = round(time.perf_counter() - t0, 3)
        out["reindex_changed"] = {"files": len(chosen), "updated": len(changed.updated),
                                  "pieces": changed.sentences_embedded,
                                  "embedded_by_model": ix.timings.get("embedded_by_model"),
                                  "stages": {k: round(v, 3) for k, v in ix.timings.items() if k != "embedded_by_model"}}
    finally:
        for path, text in originals.items():
            path.write_text(text, encoding="utf-8")
    p.index()  # back to the corpus as generated (vectors cached: no model work)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _wordpieces(embedder: Embedder, snap: Snapshot) -> int:
    """Word pieces in the texts we embed (each truncated at the model's limit)."""
    try:
        rows, _ = snap.store.sentences(list(snap.documents)[:200])
        n = sum(embedder.token_counts([r.segment for r in rows]))
        return int(n * len(snap.documents) / max(1, min(200, len(snap.documents))))  # extrapolated
    except Exception:
        return -1


def job_embed_rate(args: dict[str, Any]) -> dict[str, Any]:
    """Each backend's raw throughput on our sentence pieces (one call of the backend, nothing
    else), and our Embedder's, on the same texts. Runs alternate between the backends and the
    best of two is kept, so that load from other processes is less likely to favour one."""
    from rag.config import Config
    from rag.ingest.loaders import corpus_files, parse
    from rag.store.embeddings import Embedder
    from rag.text.sentences import segment_spans, sentence_spans

    config = Config.from_env()
    files = corpus_files(Path(args["corpus"]))[: args.get("docs", 100)]
    texts = []
    for f in files:
        for d in parse(f.name, f.read_bytes(), f.suffix):
            for s, e in sentence_spans(d.text):
                if e - s >= config.indexing.min_sentence_chars:
                    texts += [d.text[a:b] for a, b in segment_spans(d.text, s, e, config.indexing)]
    ours = Embedder.from_config(config)
    ours.warm_up()
    # The two fp32 backends (same vectors); ours is one of them unless it runs int8 or fell back.
    backends = {b: ours if (ours.backend, ours.quantize) == (b, False)
                else Embedder.from_config(config.with_(embed_backend=b, embed_quantize=False)) for b in ("onnx", "torch")}
    for emb in {id(e): e for e in [ours, *backends.values()]}.values():
        emb.warm_up()
        emb.encode_raw(texts[:64])  # first-call overheads out of the timing
    best: dict[str, float] = {}
    for _ in range(2):
        for name, emb in [*backends.items(), ("embedder", ours)]:
            t0 = time.perf_counter()
            (emb.embed if name == "embedder" else emb.encode_raw)(texts)
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t0)
    raw = best[ours.backend] if not ours.quantize else best["embedder"]
    return {"docs": len(files), "pieces": len(texts), "backend": ours.backend, "raw_s": round(raw, 3),
            "raw_pieces_per_s": round(len(texts) / raw, 1), "raw_docs_per_s": round(len(files) / raw, 2),
            "onnx_raw_pieces_per_s": round(len(texts) / best["onnx"], 1),
            "torch_raw_pieces_per_s": round(len(texts) / best["torch"], 1),
            "embedder_s": round(best["embedder"], 3), "embedder_pieces_per_s": round(len(texts) / best["embedder"], 1)}


def _clear_query_cache(p: Pipeline) -> None:
    p.embedder.clear_query_cache()


def job_serve(args: dict[str, Any]) -> dict[str, Any]:
    """Warm latencies (retrieval alone, full answers) and concurrent clients over one pipeline."""
    from rag.pipeline import Pipeline
    from rag.retrieve.retrieval import Retriever

    config = _config(args)
    questions = args["questions"]
    t0 = time.perf_counter()
    p = Pipeline(config).warm_up(sync=False)
    out: dict[str, Any] = {"warm_up_s": round(time.perf_counter() - t0, 3), "backend": p.embedder.backend}
    snap = p.snapshot
    retrievers = {mode: Retriever(config.with_(retrieval=mode)) for mode in ("dense", "bm25", "hybrid")}
    lat: dict[str, list[float]] = {k: [] for k in ("embed", "dense", "bm25", "hybrid", "answer", "gather", "answer_step")}
    hits = {"hybrid@5": 0, "dense@5": 0, "bm25@5": 0, "answer_has_fact": 0, "abstained": 0}
    for q in questions:
        _clear_query_cache(p)  # every question pays its own embedding, as a new question would
        t0 = time.perf_counter()
        answer = p.ask(q["question"])
        lat["answer"].append(time.perf_counter() - t0)
        lat["embed"].append(answer.timings.get("embed", 0.0))
        lat["gather"].append(answer.timings.get("gather", 0.0))  # the retrieved stories' sentences (one Chroma read)
        lat["answer_step"].append(answer.timings.get("answer", 0.0))
        hits["abstained"] += answer.abstained
        hits["answer_has_fact"] += bool(q.get("answer")) and q["answer"].lower() in answer.text.lower()
        vec = p.embedder.embed_query(q["question"])
        for mode, r in retrievers.items():
            t0 = time.perf_counter()
            passages = r.retrieve(snap, q["question"], vec)
            lat[mode].append(time.perf_counter() - t0)
            # The first five, as the baseline's top-5 (our answer step reads config.top_k).
            hits[f"{mode}@5"] += q["doc_id"] in [x.chunk.doc_id for x in passages[:5]]
    out["latency_ms"] = {k: percentiles(v) for k, v in lat.items()}
    out["latency_ms"]["hybrid+embed"] = percentiles([a + b for a, b in zip(lat["embed"], lat["hybrid"])])
    out["quality"] = {k: round(v / len(questions), 3) for k, v in hits.items()}
    out["questions"] = len(questions)
    out["concurrency"] = {str(n): _concurrent(lambda q: p.ask(q), questions, n, lambda: _clear_query_cache(p))
                          for n in args.get("clients", [1, 4, 16])}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _concurrent(ask: Callable[[str], object], questions: list[dict], clients: int, reset: Callable[[], None] | None = None,
                per_client: int | None = None) -> dict[str, Any]:
    """`clients` threads asking in parallel; answers/s over the whole run and per-answer latency."""
    if reset:
        reset()
    n = min(len(questions), max(clients * (per_client or 4), 48))
    work: queue.Queue = queue.Queue()
    for q in questions[:n]:
        work.put(q["question"])
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                question = work.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            try:
                ask(question)
            except Exception as exc:  # a thread-safety failure shows up here
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    wall = run_threads(threads)
    return {"answers": len(lat), "answers_per_s": round(len(lat) / wall, 2), **percentiles(lat),
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def job_cold(args: dict[str, Any]) -> dict[str, Any]:
    """Process start → first answer over an existing index, as `python -m rag ask` or app.py do
    (warm_up with the seeds folder check), then the next answers."""
    from rag.pipeline import Pipeline

    t_import = time.time() - T_PROCESS
    config = _config(args)
    t0 = time.perf_counter()
    p = Pipeline(config).warm_up()
    p.folder_changes()  # as `rag ask` does: it says when the folder changed since the last index
    warm = time.perf_counter() - t0
    qs = [q["question"] for q in args["questions"]]
    t0 = time.perf_counter()
    p.ask(qs[0])
    first = time.perf_counter() - t0
    first_at = time.time()
    nxt = []
    for q in qs[1:]:
        t0 = time.perf_counter()
        p.ask(q)
        nxt.append(time.perf_counter() - t0)
    nxt.sort()
    return {"process_to_first_answer_s": round(first_at - args["spawned_at"], 3),
            "interpreter_and_imports_s": round(T_PROCESS - args["spawned_at"] + t_import, 3),
            "warm_up_s": round(warm, 3), "first_answer_ms": round(first * 1000, 1),
            "next_answers_p50_ms": round(nxt[len(nxt) // 2] * 1000, 1) if nxt else None,
            "peak_rss_mb": peak_rss_mb()}


def job_answer_modes(args: dict[str, Any]) -> dict[str, Any]:
    """Full-answer latency of the generative modes over an existing index: `local` (the packaged
    GGUF in this process) and `openai` (the same GGUF behind llama-cpp-python's OpenAI-compatible
    server on loopback). Seconds per answer, so a few questions, not 200."""
    from rag.pipeline import Pipeline

    config = _config(args)
    questions = [q["question"] for q in args["questions"]]
    out: dict[str, Any] = {}
    for mode in args.get("modes", ["local", "openai"]):
        server = None
        try:
            if mode == "openai":
                from rag.answer.llm import resolve_gguf
                from rag.bench.llama_server import start_llama_server

                server, url = start_llama_server(resolve_gguf(config.llm_gguf), n_ctx=config.llm_context_tokens,
                                                 alias="dossier-bench")
                cfg = config.with_(answer_mode="openai", openai_base_url=url, openai_model="dossier-bench")
            else:
                cfg = config.with_(answer_mode=mode)
            t0 = time.perf_counter()
            p = Pipeline(cfg).warm_up(sync=False)
            res: dict[str, Any] = {"warm_up_s": round(time.perf_counter() - t0, 3)}
            lat, generated, abstained = [], 0, 0
            for q in questions:
                t0 = time.perf_counter()
                answer = p.ask(q)
                lat.append(time.perf_counter() - t0)
                generated += answer.mode_used == mode
                abstained += answer.abstained
            res.update(latency_ms=percentiles(lat), questions=len(questions), generated=generated, abstained=abstained,
                       fell_back_to_extractive=len(questions) - generated - abstained)
            out[mode] = res
        except Exception as exc:  # a mode that cannot run here is reported, not fatal
            out[mode] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def job_baseline_ingest(args: dict[str, Any]) -> dict[str, Any]:
    from rag.bench import baseline
    from rag.store.embed_cache import EmbeddingCache

    cache = EmbeddingCache(Path(args["cache"]), baseline.model_fingerprint()) if args.get("cache") else None
    out = baseline.ingest(Path(args["corpus"]), Path(args["workdir"]), cache)
    out["index_total_s"] = round(sum(v for k, v in out["timings"].items() if k != "model_load"), 3)
    out["stages"] = {k: round(v, 3) for k, v in out.pop("timings").items()}
    return out


def job_baseline_serve(args: dict[str, Any]) -> dict[str, Any]:
    """Cold start, warm retrieval latency and concurrency of the baseline over its saved index."""
    from rag.bench.baseline import OpenBaseline

    t_import = time.time() - T_PROCESS
    system = OpenBaseline(Path(args["corpus"]), Path(args["workdir"]), top_k=5)
    t0 = time.perf_counter()
    system.open()
    questions = args["questions"]
    system.ask(questions[0]["question"], [])
    first_at = time.time()
    out: dict[str, Any] = {"process_to_first_answer_s": round(first_at - args["spawned_at"], 3),
                           "interpreter_and_imports_s": round(T_PROCESS - args["spawned_at"] + t_import, 3),
                           "open_and_first_answer_s": round(time.perf_counter() - t0, 3)}
    lat, hits = [], 0
    for q in questions:
        t0 = time.perf_counter()
        res = system.ask(q["question"], [])
        lat.append(time.perf_counter() - t0)
        hits += any(Path(x.doc_id).name == q["doc_id"] for x in res.passages)
    out["latency_ms"] = {"retrieval": percentiles(lat)}
    out["quality"] = {"dense@5": round(hits / len(questions), 3)}
    out["concurrency"] = {str(n): _concurrent(lambda q: system.ask(q, []), questions, n) for n in args.get("clients", [1, 4, 16])}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


JOBS = {name[4:]: fn for name, fn in globals().items() if name.startswith("job_")}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    job, args = sys.argv[1], json.loads(sys.argv[2])
    emit(JOBS[job](args))


if __name__ == "__main__":
    main()
