"""`python app.py` in a subprocess over a test's own seeds copy and index, its output kept in files:
for tests of what the real start does (flags, refusals, what it prints and logs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from chroma_server import terminate
from conftest import ROOT, SEEDS, SHARED_TEXT_CACHE

# Root logging at DEBUG before app.py's own basicConfig (which then keeps it): every library's
# debug lines land on stderr.
DEBUG_START = ("import logging, runpy, sys; "
               "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s: %(message)s'); "
               "sys.argv = ['app.py', *sys.argv[1:]]; runpy.run_path('app.py', run_name='__main__')")


def app_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment for an app over a private seeds copy in `tmp` (RAG_* settings on top)."""
    seeds = tmp / "seeds"
    if not seeds.exists():
        shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("uploads"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and k != "OPENAI_API_KEY"}
    env.update(RAG_SEEDS_DIR=str(seeds), RAG_INDEX_DIR=str(tmp / "index"), RAG_TEXT_CACHE_DIR=str(SHARED_TEXT_CACHE),
               GRADIO_ANALYTICS_ENABLED="False")
    env.update(settings)
    return env


class AppProcess:
    """A started app; `output()` is everything it wrote to stdout and stderr so far."""

    def __init__(self, tmp: Path, env: dict[str, str], *argv: str, debug: bool = False) -> None:
        n = len(list(tmp.glob("app-*.err")))  # one pair of files per start, kept for a failed test's reader
        self.out, self.err = tmp / f"app-{n}.out", tmp / f"app-{n}.err"
        cmd = [sys.executable, "-c", DEBUG_START, *argv] if debug else [sys.executable, "app.py", *argv]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)

    def wait_until_serving(self, url: str, limit: float = 300) -> None:
        """Until the server answers at `url` (bounded; the process dying ends the wait at once)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited with {self.proc.returncode}: {self.output()[-2000:]}")
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise AssertionError(f"app not serving {url} after {limit} s: {self.output()[-2000:]}")

    def wait(self, limit: float = 300) -> int:
        return self.proc.wait(timeout=limit)

    def stop(self) -> None:
        terminate(self.proc, 30)

    def output(self) -> str:
        return (self.out.read_text("utf-8", "replace") + "\n" + self.err.read_text("utf-8", "replace"))
