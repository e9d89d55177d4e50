"""llama-cpp-python's OpenAI-compatible server, started for the tests and the bench (never by the app)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def start_llama_server(gguf: str, *, n_ctx: int, alias: str, chat_format: str = "", log: Path | None = None,
                       timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) for `gguf` on a
    free loopback port, once it answers: (process, base URL for RAG_OPENAI_BASE_URL). The caller
    stops the process. RuntimeError, with the end of `log`, when it does not come up."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx), "--model_alias", alias] + (["--chat_format", chat_format] if chat_format else [])
    with open(log, "wb") if log else open(os.devnull, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"llama_cpp.server did not start:\n{tail}")
        time.sleep(0.5)
