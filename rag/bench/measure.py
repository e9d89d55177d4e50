"""Timing, memory and subprocess helpers shared by the benchmark jobs."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rag.config import ROOT
from rag.eval.metrics import percentile

RESULT_MARK = "@@BENCH@@"  # the line a worker prints its result on


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean in milliseconds (percentiles as rag.eval.metrics.percentile computes them)."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]

    def at(q: float) -> float:
        value = percentile(ms, q)
        assert value is not None  # (ms is not empty)
        return round(value, 2)

    return {"n": len(ms), "p50": at(50), "p95": at(95), "p99": at(99), "mean": round(sum(ms) / len(ms), 2)}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


class LoadSampler:
    """The 1-minute load average sampled during a measurement (other work shares the machine)."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = [load_average()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(load_average())

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.samples.append(load_average())

    def summary(self) -> dict[str, float]:
        return {"min": min(self.samples), "mean": round(sum(self.samples) / len(self.samples), 2), "max": max(self.samples)}


def emit(result: dict[str, Any]) -> None:
    """Print a worker's result for the parent (the last line that starts with the mark)."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    print(RESULT_MARK + json.dumps(result), flush=True)


def run_worker(job: str, args: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 7200) -> dict[str, Any]:
    """Run `python -m rag.bench.worker JOB` in a fresh process and return its result.

    A fresh process per job gives honest peak memory and cold-start figures: nothing loaded by
    one job is counted in another. `wall_s` is measured here, from before the process starts.
    """
    cmd = [sys.executable, "-m", "rag.bench.worker", job, json.dumps(args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"bench job {job} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(RESULT_MARK):])
    result["wall_s"] = round(wall, 3)
    return result


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port free on loopback right now (for an app.py the bench starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until the app.py in `proc` accepts connections at `url`; its stderr's tail if it exits first."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {proc.stderr.read()[-500:] if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f"app.py did not start within {timeout:.0f} s") from None
            time.sleep(0.5)


def run_threads(threads: list[threading.Thread]) -> float:
    """Start the client threads together, wait for all; the wall-clock seconds they took."""
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0
