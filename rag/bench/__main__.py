"""`python -m rag.bench`: ingestion, cold start, warm latency, memory, concurrency and scale, ours
against llama-index's plain defaults on the same corpus, in one run.

    python -m rag.bench --quick                 # seeds + 50 synthetic articles, < 2 minutes
    python -m rag.bench                         # seeds, 1k, 3k, 10k synthetic articles
    python -m rag.bench --sizes 1000,3000       # chosen sizes
    python -m rag.bench --corpus PATH           # a folder of articles or a JSONL file
    python -m rag.bench --load                  # 32 clients send 1,000 questions to /ask, then 5,000 in a row

The full run also times the generative answer modes (`local`: the packaged GGUF in-process;
`openai`: the same model behind llama-cpp-python's server on loopback) on the seeds, over
--llm-questions questions (seconds per answer, so 20 by default, not 200).

Prints a table per corpus and writes everything to bench/results/<timestamp>.json. Every job runs
in its own process (honest memory and cold-start figures). Embeddings are cached by content in
bench/.cache/embed-cache.sqlite, for us and for the baseline, so large sizes are embedded once;
the smallest synthetic size always embeds from an empty cache, and its measured rate gives the
uncached ingestion estimate of the cached sizes (embedding time is linear in the text).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rag.bench import corpus as synth
from rag.bench.measure import (
    LoadSampler,
    free_port,
    load_average,
    percentiles,
    run_threads,
    run_worker,
    wait_listening,
    write_json,
)
from rag.config import ROOT
from rag.eval.report import git_commit

RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "bench" / ".cache"
# Not under a hidden folder: SimpleDirectoryReader skips every file below one (exclude_hidden).
CORPORA = ROOT / "bench" / "corpora"
FULL_SIZES = [1000, 3000, 10000]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="seeds + 50 synthetic articles, 40 questions, fewer jobs (< 2 min)")
    ap.add_argument("--sizes", help="comma-separated synthetic corpus sizes (default 1000,3000,10000)")
    ap.add_argument("--corpus", type=Path, help="a folder of .txt/.md/.html articles or a JSONL file, instead of synthetic")
    ap.add_argument("--no-seeds", action="store_true", help="skip the five seed pages")
    ap.add_argument("--questions", type=int, help="questions per corpus (default 200; quick 40)")
    ap.add_argument("--no-baseline", action="store_true", help="skip llama-index's defaults")
    ap.add_argument("--gradio", choices=["auto", "off"], default="auto", help="concurrency through app.py's /ask too")
    ap.add_argument("--clients", default="1,4,16", help="concurrent clients to measure (default 1,4,16)")
    ap.add_argument("--app-processes", type=int, default=1,
                    help="app.py processes for the /ask concurrency, clients spread over them (default 1)")
    ap.add_argument("--llm-questions", type=int, default=20,
                    help="questions for the generative answer modes on the first corpus (seconds each; 0 skips; not in --quick)")
    ap.add_argument("--cache", type=Path, default=CACHE / "embed-cache.sqlite", help="embedding cache shared by runs")
    ap.add_argument("--workdir", type=Path, help="keep the indexes here (default: a temp folder, deleted)")
    ap.add_argument("--out", type=Path, help="result file (default bench/results/<timestamp>.json)")
    ap.add_argument("--load", action="store_true", help="load test through app.py's /ask instead (rag/bench/load.py)")
    ap.add_argument("--load-clients", type=int, default=32, help="concurrent clients of the load test (default 32)")
    ap.add_argument("--load-questions", type=int, default=1000, help="questions they send in all (default 1,000)")
    ap.add_argument("--load-sequential", type=int, default=5000, help="then questions in a row, RSS tracked (default 5,000)")
    ap.add_argument("--load-minutes", type=float, default=30, help="time limit of each load phase (default 30)")
    args = ap.parse_args(argv)
    if args.load:
        from rag.bench.load import run_load

        result = run_load(args.load_clients, args.load_questions, args.load_sequential, args.load_minutes, args.out)
        return 1 if result["concurrent"]["errors"] or result["sequential"]["errors"] else 0

    n_questions = args.questions or (40 if args.quick else 200)
    clients = [int(x) for x in args.clients.split(",")]
    if args.quick:
        clients = [c for c in clients if c <= 4]
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else ([50] if args.quick else FULL_SIZES)
    run: dict[str, Any] = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "commit": git_commit(),
                           "command": "python -m rag.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
                           # RAG_CHROMA_URL (inherited by every job): the index on a Chroma server
                           "store": "server" if os.environ.get("RAG_CHROMA_URL") else "embedded",
                           "corpora": {}}
    out_path = args.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as tmp_name, LoadSampler() as load:
        tmp = args.workdir or Path(tmp_name)
        corpora: list[tuple[str, Path, list[dict], bool]] = []  # name, folder, questions, uncached
        if args.corpus:
            folder, real = synth.load_real(args.corpus, tmp / "real-corpus")
            corpora.append((args.corpus.name, folder, _as_dicts(real, n_questions), False))
        else:
            if not args.no_seeds:
                corpora.append(("seeds", _copy_seeds(tmp / "seeds"), seed_questions(n_questions), True))
            for i, n in enumerate(sorted(sizes)):
                articles = synth.generate(n)
                folder = synth.write_folder(articles, CORPORA / f"synthetic-{n}")
                _prune_folder(folder, {f"{a.doc_id}.txt" for a in articles})
                qs = _as_dicts(synth.questions_for(articles, n_questions), n_questions)
                corpora.append((f"{n}", folder, qs, i == 0))
        for k, (name, folder, questions, uncached) in enumerate(corpora):
            print(f"\n== {name}: {folder} ({len(questions)} questions)", file=sys.stderr, flush=True)
            # --quick: cold start and baseline on the last corpus only, no separate raw-model job.
            full = not args.quick or k == len(corpora) - 1
            res = bench_corpus(name, folder, questions, tmp / f"work-{name}", args, clients, uncached, full)
            run["corpora"][name] = res
            write_json(out_path, run)  # partial results survive an interrupted run
            print(table(name, res), flush=True)
        if args.gradio == "auto" and (ROOT / "app.py").exists():
            name, folder, questions, _ = corpora[-1]
            print(f"\n== gradio /ask over {name}", file=sys.stderr, flush=True)
            try:
                run["gradio"] = {"corpus": name, "processes": args.app_processes,
                                 **gradio_concurrency(folder, tmp / f"work-{name}" / "ours", questions, clients, args.app_processes)}
            except Exception as exc:  # the app is a colleague's; its absence or failure is reported, not fatal
                run["gradio"] = {"corpus": name, "error": f"{type(exc).__name__}: {exc}"}
    run["load_average"] = load.summary()
    if len(run["corpora"]) > 1:
        print(growth_table(run["corpora"]))
    if "gradio" in run:
        print(gradio_table(run["gradio"]))
    print(f"\nload average (1 min) during the run: {run['load_average']} on {os.cpu_count()} CPUs")
    write_json(out_path, run)
    print(f"results: {out_path}")
    return 0


def bench_corpus(name: str, folder: Path, questions: list[dict], work: Path, args: argparse.Namespace, clients: list[int], uncached: bool,
                 full: bool = True) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    # The smallest corpus embeds from an empty cache: its embedding figures are real model work.
    cache = str(work / "fresh-cache.sqlite") if uncached else str(args.cache)
    ours_args = {"corpus": str(folder), "index": str(work / "ours")}
    res: dict[str, Any] = {"questions": len(questions), "cache": "empty" if uncached else "shared"}
    with LoadSampler() as load:
        res["ingest"] = run_worker("ingest", {**ours_args, "cache": cache})
    res["ingest"]["load_average"] = load.summary()
    if uncached and not args.quick:
        with LoadSampler() as load:
            res["embed_rate"] = run_worker("embed_rate", {"corpus": str(folder), "docs": 100})
        res["embed_rate"]["load_average"] = load.summary()
    if full:
        with LoadSampler() as load:
            res["cold"] = run_worker("cold", {**ours_args, "questions": questions[:6], "spawned_at": time.time()})
        res["cold"]["load_average"] = load.summary()
    with LoadSampler() as load:
        res["serve"] = run_worker("serve", {**ours_args, "questions": questions, "clients": clients})
    res["serve"]["load_average"] = load.summary()
    if uncached and not args.quick and args.llm_questions > 0 and name == "seeds":
        # Generation does not depend on the corpus size (retrieval is measured above): once, on the seeds.
        with LoadSampler() as load:
            res["answer_modes"] = run_worker("answer_modes", {**ours_args, "questions": questions[: args.llm_questions]})
        res["answer_modes"]["load_average"] = load.summary()
    if not args.no_baseline and full:
        base_args = {"corpus": str(folder), "workdir": str(work / "baseline")}
        with LoadSampler() as load:
            res["baseline_ingest"] = run_worker("baseline_ingest", {**base_args, "cache": None if uncached else str(args.cache)})
        res["baseline_ingest"]["load_average"] = load.summary()
        with LoadSampler() as load:
            res["baseline_serve"] = run_worker("baseline_serve", {**base_args, "questions": questions, "clients": clients,
                                                                 "spawned_at": time.time()})
        res["baseline_serve"]["load_average"] = load.summary()
    return res


# -- questions and corpora ------------------------------------------------------------------------
def seed_questions(n: int) -> list[dict]:
    """The answerable gold and dev questions (cycled up to n: latency needs ≥200 samples)."""
    qs = []
    for path in (ROOT / "eval" / "gold_qa.jsonl", ROOT / "eval" / "dev_qa.jsonl"):
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if rec.get("answerable") and not rec.get("history"):
                    qs.append({"question": rec["question"], "doc_id": rec["doc_ids"][0], "answer": rec["facts"][0][0]})
    return [qs[i % len(qs)] for i in range(n)] if qs else []


def _as_dicts(questions: list[synth.Question], n: int) -> list[dict]:
    qs = [{"question": q.question, "doc_id": q.doc_id, "answer": q.answer} for q in questions]
    return [qs[i % len(qs)] for i in range(n)] if qs else []


def _copy_seeds(dest: Path) -> Path:
    shutil.copytree(ROOT / "seeds", dest, ignore=shutil.ignore_patterns("uploads", ".*"))
    return dest


def _prune_folder(folder: Path, keep: set[str]) -> None:
    for p in folder.glob("*.txt"):
        if p.name not in keep:
            p.unlink()


# -- Gradio ---------------------------------------------------------------------------------------
def gradio_concurrency(folder: Path, index: Path, questions: list[dict], clients: list[int], processes: int = 1) -> dict:
    """Answers/s through app.py's /ask endpoint with concurrent gradio_client clients, spread over
    `processes` app.py processes serving the same index (its folder, or the Chroma server)."""
    from gradio_client import Client

    procs, urls = [], []
    for _ in range(processes):
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_SEEDS_DIR": str(folder), "RAG_INDEX_DIR": str(index),
               "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1", "RAG_COLLECTION": _collection(index)}
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        urls.append(f"http://127.0.0.1:{port}/")
    proc, url = procs[0], urls[0]
    t_spawn = time.perf_counter()
    try:
        wait_listening(url, proc)
        listening = time.perf_counter() - t_spawn
        for other in urls[1:]:
            wait_listening(other, procs[urls.index(other)])
        # The app's first-question delay as a user sees it: process start → first answer, and
        # that first answer against the next ones (models load at start, not on the first question).
        probe = Client(url, verbose=False)
        start: dict[str, Any] = {"process_to_listening_s": round(listening, 3)}
        times = []
        for q in questions[:6]:
            t0 = time.perf_counter()
            probe.predict(q["question"], [], api_name="/ask")
            times.append(time.perf_counter() - t0)
            if len(times) == 1:
                start["process_to_first_answer_s"] = round(time.perf_counter() - t_spawn, 3)
        start["first_answer_ms"] = round(times[0] * 1000, 1)
        start["next_answers_p50_ms"] = round(sorted(times[1:])[len(times[1:]) // 2] * 1000, 1) if len(times) > 1 else None
        out: dict[str, Any] = {}
        for n in clients:
            pool = [Client(urls[i % len(urls)], verbose=False) for i in range(n)]
            work = [q["question"] for q in questions[: max(4 * n, 32)]]
            lat: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def client(c: Any, items: list[str], lat: list[float] = lat, errors: list[str] = errors,
                       lock: threading.Lock = lock) -> None:
                for q in items:
                    t0 = time.perf_counter()
                    try:
                        c.predict(q, [], api_name="/ask")
                    except Exception as exc:
                        with lock:
                            errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        lat.append(time.perf_counter() - t0)

            threads = [threading.Thread(target=client, args=(pool[i], work[i::n])) for i in range(n)]
            wall = run_threads(threads)
            out[str(n)] = {"answers": len(lat), "answers_per_s": round(len(lat) / wall, 2), **percentiles(lat),
                           "errors": len(errors), "first_error": errors[0] if errors else "", "load": load_average()}
        return {"start": start, "clients": out}
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _collection(index: Path) -> str:
    """The index's collection on a Chroma server: one per corpus (rag.bench.worker._config)."""
    return f"bench-{index.parent.name}"


# -- reporting ------------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b:
        return ""
    return f"{a / b:.2f}"


def rows(res: dict) -> list[tuple[str, Any, Any, str]]:
    """(metric, ours, baseline, note) for one corpus."""
    ing, base_ing = res["ingest"], res.get("baseline_ingest", {})
    srv, base_srv = res["serve"], res.get("baseline_serve", {})
    cold = res.get("cold") or {"process_to_first_answer_s": None, "interpreter_and_imports_s": "-", "warm_up_s": "-",
                               "first_answer_ms": None, "next_answers_p50_ms": None}
    docs = ing["documents"]
    out: list[tuple[str, Any, Any, str]] = [
        ("documents / chunks", f"{docs} / {ing['chunks']}", f"{base_ing.get('documents', '')} / {base_ing.get('chunks', '')}", ""),
        ("texts embedded (pieces / chunks)", ing["pieces"], base_ing.get("embedded_texts"), f"our embedding backend: {ing.get('backend', 'torch')}"),
    ]
    cached = res["cache"] == "shared"
    st, bst = ing["stages"], base_ing.get("stages", {})

    def rate(n: float, s: float | None) -> float | None:
        return round(n / s, 1) if s else None

    out += [
        ("read+clean docs/s", rate(docs, st.get("read", 0) + st.get("clean", 0)), rate(base_ing.get("documents", 0), bst.get("read")), "baseline: SimpleDirectoryReader, no cleaning"),
        ("chunk docs/s", rate(docs, st.get("chunk", 0)), rate(base_ing.get("documents", 0), bst.get("chunk")), ""),
        ("chunks/s (chunking)", rate(ing["chunks"], st.get("chunk", 0)), rate(base_ing.get("chunks", 0), bst.get("chunk")), ""),
        ("sentence split docs/s", rate(docs, st.get("sentences", 0)), None, "ours only"),
        ("entity tagging docs/s", rate(docs, st.get("annotate", 0)), None,
         f"ours only (spaCy NER, {st.get('annotate', 0):.1f} s; cached by text)"),
        ("embed docs/s" + (" (cache)" if cached else ""), rate(docs, st.get("embed", 0)), rate(base_ing.get("documents", 0), bst.get("embed")),
         f"model ran on {ing.get('embedded_by_model')} / {base_ing.get('embedded_by_model')} texts"),
        ("tagging + embedding wall s", st.get("tag_and_embed"), None,
         "ours only: the two run at once (tagging in a thread), so this is less than their sum"),
        ("write docs/s", rate(docs, st.get("write", 0)), rate(base_ing.get("documents", 0), bst.get("write")), "Chroma + tables"),
        ("BM25 build s", st.get("bm25"), None, "ours only"),
        ("index total s", ing["index_total_s"], base_ing.get("index_total_s"), "cached embeddings" if cached else "from an empty cache"),
        ("index docs/s", rate(docs, ing["index_total_s"]), rate(base_ing.get("documents", 0), base_ing.get("index_total_s")), ""),
        ("re-index unchanged s", ing["reindex_unchanged_s"], None, "baseline has no incremental update"),
        ("re-index 1% changed s", ing["reindex_changed_s"], None, f"{ing['reindex_changed']['files']} files, model ran on {ing['reindex_changed']['embedded_by_model']} pieces"),
        ("snapshot open s", ing.get("snapshot_open_s"), None, "store + chunk table + saved BM25"),
        ("peak RSS indexing MB", ing["peak_rss_mb"], base_ing.get("peak_rss_mb"), ""),
        ("cold start → 1st answer s", cold["process_to_first_answer_s"], base_srv.get("process_to_first_answer_s"), f"ours: imports {cold['interpreter_and_imports_s']} s, warm_up {cold['warm_up_s']} s"),
        ("1st answer / next p50 ms", f"{cold['first_answer_ms']} / {cold['next_answers_p50_ms']}", None, ""),
    ]
    lat, blat = srv["latency_ms"], base_srv.get("latency_ms", {})
    for key, label in (("embed", "query embedding"), ("dense", "dense retrieval"), ("bm25", "BM25 retrieval"),
                       ("hybrid", "hybrid retrieval"), ("hybrid+embed", "hybrid incl. embedding"), ("answer", "full extractive answer")):
        b = blat.get("retrieval") if key in ("hybrid+embed", "answer") else None
        for p in ("p50", "p95", "p99"):
            out.append((f"{label} {p} ms", lat[key].get(p), b.get(p) if b else None,
                        "baseline: embed + top-5 dense (its answer is the top chunk)" if b and p == "p50" else ""))
    out.append(("peak RSS serving MB", srv["peak_rss_mb"], base_srv.get("peak_rss_mb"), ""))
    q, bq = srv["quality"], base_srv.get("quality", {})
    out += [("hit@5 hybrid / dense", f"{q['hybrid@5']} / {q['dense@5']}", bq.get("dense@5"), "right article among the 5 passages"),
            ("answer holds the fact", q["answer_has_fact"], None, f"abstained {q['abstained']}")]
    for n, c in srv["concurrency"].items():
        b = base_srv.get("concurrency", {}).get(n, {})
        out.append((f"{n} clients answers/s (p95 ms)", f"{c['answers_per_s']} ({c.get('p95')})",
                    f"{b['answers_per_s']} ({b.get('p95')})" if b else None, f"errors {c['errors']}" if c["errors"] else ""))
    for mode, m in res.get("answer_modes", {}).items():
        if isinstance(m, dict) and "latency_ms" in m:
            out.append((f"full {mode} answer p50 / p95 ms", f"{m['latency_ms'].get('p50')} / {m['latency_ms'].get('p95')}", None,
                        f"{m['questions']} questions: generated {m['generated']}, extractive fallback {m['fell_back_to_extractive']}, abstained {m['abstained']}"))
        elif isinstance(m, dict) and "error" in m:
            out.append((f"full {mode} answer", "not measured", None, m["error"][:80]))
    if "embed_rate" in res:
        er = res["embed_rate"]
        emb_pieces_s = ing["pieces"] / st["embed"] if st.get("embed") else None
        out.append(("raw model pieces/s", er["raw_pieces_per_s"], None, f"{er.get('backend', 'torch')} backend alone on {er['pieces']} pieces"))
        if "torch_raw_pieces_per_s" in er:
            out.append(("raw pieces/s onnx / torch", f"{er['onnx_raw_pieces_per_s']} / {er['torch_raw_pieces_per_s']}", None,
                        f"onnx {er['onnx_raw_pieces_per_s'] / er['torch_raw_pieces_per_s']:.2f}x torch, same vectors"))
        out.append(("indexer embed stage pieces/s", round(emb_pieces_s, 1) if emb_pieces_s else None, None,
                    f"{round(100 * emb_pieces_s / er['raw_pieces_per_s'])}% of raw" if emb_pieces_s else ""))
        out.append(("end-to-end pieces/s", round(ing["pieces"] / ing["index_total_s"], 1), None,
                    f"{round(100 * ing['pieces'] / ing['index_total_s'] / er['raw_pieces_per_s'])}% of raw"))
    return out


def table(name: str, res: dict) -> str:
    lines = [f"\n### {name} (load average during jobs: ingest {res['ingest']['load_average']['mean']}, "
             f"serve {res['serve']['load_average']['mean']})",
             f"| {'metric':<36} | {'ours':>18} | {'llama-index':>18} | {'ratio':>6} | note", "|" + "-" * 38 + "|" + "-" * 20 + "|" + "-" * 20 + "|" + "-" * 8 + "|------"]
    for metric, ours, base, note in rows(res):
        r = _ratio(ours, base) if isinstance(ours, (int, float)) and isinstance(base, (int, float)) else ""
        lines.append(f"| {metric:<36} | {_fmt(ours):>18} | {_fmt(base):>18} | {r:>6} | {note}")
    return "\n".join(lines)


def growth_table(corpora: dict[str, dict]) -> str:
    """How our figures grow with corpus size."""
    names = list(corpora)
    keys = [("index docs/s", lambda r: r["ingest"]["documents"] / r["ingest"]["index_total_s"]),
            ("re-index unchanged s", lambda r: r["ingest"]["reindex_unchanged_s"]),
            ("re-index 1% s", lambda r: r["ingest"]["reindex_changed_s"]),
            ("cold start s", lambda r: r["cold"]["process_to_first_answer_s"]),
            ("hybrid p50 ms", lambda r: r["serve"]["latency_ms"]["hybrid"]["p50"]),
            ("hybrid+embed p50 ms", lambda r: r["serve"]["latency_ms"]["hybrid+embed"]["p50"]),
            ("answer p50 ms", lambda r: r["serve"]["latency_ms"]["answer"]["p50"]),
            ("answer p95 ms", lambda r: r["serve"]["latency_ms"]["answer"]["p95"]),
            ("serving RSS MB", lambda r: r["serve"]["peak_rss_mb"]),
            ("indexing RSS MB", lambda r: r["ingest"]["peak_rss_mb"]),
            ("baseline retrieval p50 ms", lambda r: r["baseline_serve"]["latency_ms"]["retrieval"]["p50"]),
            ("baseline serving RSS MB", lambda r: r["baseline_serve"]["peak_rss_mb"]),
            ("hit@5 ours / baseline", lambda r: f"{r['serve']['quality']['hybrid@5']} / {r['baseline_serve']['quality']['dense@5']}")]
    lines = ["\n### growth with corpus size (ours unless named)", "| metric | " + " | ".join(names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for label, fn in keys:
        vals = []
        for n in names:
            try:
                vals.append(_fmt(fn(corpora[n])))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append("")
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def gradio_table(g: dict) -> str:
    if "error" in g:
        return f"\ngradio /ask: not measured ({g['error']})"
    st = g.get("start", {})
    lines = [f"\n### gradio /ask over {g['corpus']} ({g.get('processes', 1)} app.py process(es), queue concurrency as configured there)",
             f"app.py start → listening {st.get('process_to_listening_s')} s, → first answer {st.get('process_to_first_answer_s')} s "
             f"(first answer {st.get('first_answer_ms')} ms, next p50 {st.get('next_answers_p50_ms')} ms, through gradio_client)",
             "| clients | answers/s | p50 ms | p95 ms | errors |", "|---|---|---|---|---|"]
    for n, c in g["clients"].items():
        lines.append(f"| {n} | {c['answers_per_s']} | {c.get('p50')} | {c.get('p95')} | {c['errors']} |")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024:.0f} GB"
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "platform": platform.platform()}



if __name__ == "__main__":
    sys.exit(main())
