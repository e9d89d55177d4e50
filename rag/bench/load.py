"""`python -m rag.bench --load`: many clients at once, then a long sequential run, through app.py's
Gradio `/ask` on loopback. Counts errors and malformed answers, records latency and the app's RSS.

    python -m rag.bench --load                       # 32 clients x 1,000 questions, then 5,000 in a row
    python -m rag.bench --load --load-questions 200 --load-sequential 500 --load-minutes 5

Bounded: by count, and by --load-minutes (a phase that reaches it stops sending and says so). The
app only ever listens on 127.0.0.1. Questions: the seed gold and dev questions, asked round-robin,
plus a few the app must refuse in one line (empty, only punctuation), which count as well-formed
when refused with their message and as errors otherwise.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.bench.measure import free_port, percentiles, run_threads, wait_listening, write_json
from rag.config import ROOT
from rag.eval.report import git_commit

# (question, words of the one-line refusal it must get, or "" when it must be answered)
REFUSALS = [("?!...", "no words"), ("   ", "empty")]


def seed_questions() -> list[str]:
    questions = []
    for name in ("gold_qa.jsonl", "dev_qa.jsonl"):
        path = ROOT / "eval" / name
        if path.exists():
            questions += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return questions or ["What did Japan offer India?"]


def malformed(text: Any, answer: Any) -> str:
    """Why an /ask result is not a well-formed answer, or "" when it is one (or an abstention)."""
    if not isinstance(text, str) or not isinstance(answer, dict) or text != answer.get("text"):
        return "text and answer do not match"
    if not text.strip():
        return "empty answer text"
    citations = answer.get("citations")
    if not isinstance(citations, list) or not isinstance(answer.get("abstained"), bool):
        return "no citations list or abstained flag"
    if not answer["abstained"] and not citations:
        return "an answer without citations"
    numbers = {c.get("n") for c in citations}
    if {int(n) for n in re.findall(r"\[(\d+)\]", text)} - numbers:
        return "a [n] marker that is no citation"
    if any(not c.get("snippet") or not c.get("source") for c in citations):
        return "a citation without its sentence or source"
    return ""


def ask_one(client: Any, question: str, refusal: str) -> str:
    """"" when the answer (or the refusal) is right, else what went wrong."""
    try:
        text, answer = client.predict(question, [], api_name="/ask")
    except Exception as exc:
        message = " ".join(str(exc).split())
        return "" if refusal and refusal in message else f"{type(exc).__name__}: {message[:200]}"
    return f"answered a question that must be refused: {question!r}" if refusal else malformed(text, answer)


def hammer(url: str, total: int, clients: int, deadline: float, questions: list[str] | None = None) -> dict[str, Any]:
    """`total` questions from `clients` concurrent gradio_client clients; errors, latency, answers/s."""
    from gradio_client import Client

    pool = questions or seed_questions()
    work: queue.Queue = queue.Queue()
    for i in range(total):
        q, refusal = REFUSALS[i // 50 % len(REFUSALS)] if i % 50 == 49 else (pool[i % len(pool)], "")
        work.put((q, refusal))
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stopped = threading.Event()

    def run(client: Any) -> None:
        while not stopped.is_set():
            try:
                q, refusal = work.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() > deadline:
                stopped.set()
                return
            t0 = time.perf_counter()
            problem = ask_one(client, q, refusal)
            with lock:
                lat.append(time.perf_counter() - t0)
                if problem:
                    errors.append(problem)

    threads = [threading.Thread(target=run, args=(Client(url, verbose=False),)) for _ in range(clients)]
    wall = run_threads(threads)
    return {"clients": clients, "asked": len(lat), "planned": total, "stopped_at_time_limit": stopped.is_set(),
            "errors": len(errors), "first_errors": errors[:5], "answers_per_s": round(len(lat) / wall, 2),
            "wall_s": round(wall, 1), **percentiles(lat)}


def sequential(url: str, total: int, rss: Callable[[], float], deadline: float,
               questions: list[str] | None = None) -> dict[str, Any]:
    """`total` questions one after another; the app's RSS at the start, the middle and the end."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    pool = questions or seed_questions()
    marks = {"start": rss()}
    errors: list[str] = []
    lat: list[float] = []
    for i in range(total):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        problem = ask_one(client, pool[i % len(pool)], "")
        lat.append(time.perf_counter() - t0)
        if problem:
            errors.append(problem)
        if i + 1 == total // 2:
            marks["middle"] = rss()
    marks["end"] = rss()
    return {"asked": len(lat), "planned": total, "errors": len(errors), "first_errors": errors[:5],
            "rss_mb": {k: round(v, 1) for k, v in marks.items()}, **percentiles(lat)}


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def app_server(seeds: Path, index: Path, cache: Path | None = None) -> Iterator[tuple[str, int]]:
    """app.py in its own process on a free loopback port; yields (url, pid)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_SEEDS_DIR": str(seeds), "RAG_INDEX_DIR": str(index),
           "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1"}
    if cache is not None:
        env["RAG_TEXT_CACHE_DIR"] = str(cache)
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_listening(url, proc)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_load(clients: int, total: int, in_a_row: int, minutes: float, out: Path | None) -> dict[str, Any]:
    import shutil

    with tempfile.TemporaryDirectory(prefix="dossier-load-") as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(ROOT / "seeds", seeds, ignore=shutil.ignore_patterns("uploads"))
        result: dict[str, Any] = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": git_commit(),
                                  "command": f"python -m rag.bench --load --load-clients {clients} --load-questions {total} "
                                             f"--load-sequential {in_a_row} --load-minutes {minutes}",
                                  "load_average_start": os.getloadavg()[0]}
        with app_server(seeds, Path(tmp) / "index", ROOT / "bench" / ".cache") as (url, pid):
            print(f"load: {clients} clients, {total} questions through {url}ask", file=sys.stderr, flush=True)
            result["concurrent"] = hammer(url, total, clients, time.monotonic() + 60 * minutes)
            result["concurrent"]["load_average_end"] = os.getloadavg()[0]
            print(f"load: {in_a_row} questions in a row", file=sys.stderr, flush=True)
            result["sequential"] = sequential(url, in_a_row, lambda: rss_mb(pid), time.monotonic() + 60 * minutes)
            result["sequential"]["load_average_end"] = os.getloadavg()[0]
    path = write_json(out or ROOT / "bench" / "results" / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json", result)
    c, s = result["concurrent"], result["sequential"]
    print(f"\n{c['clients']} clients: {c['asked']}/{c['planned']} questions, {c['errors']} errors, {c['answers_per_s']} answers/s, "
          f"p50 {c['p50']} ms, p95 {c['p95']} ms{' (stopped at the time limit)' if c['stopped_at_time_limit'] else ''}")
    print(f"in a row: {s['asked']}/{s['planned']} questions, {s['errors']} errors, p50 {s['p50']} ms, "
          f"RSS start {s['rss_mb']['start']} MB, middle {s['rss_mb'].get('middle')} MB, end {s['rss_mb']['end']} MB")
    print(f"written to {path}")
    return result
