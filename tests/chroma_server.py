"""A real Chroma server for the tests (`chroma run`, the CLI the chromadb package installs), and a
token-checking reverse proxy in front of it.

Why the proxy: chromadb 1.5.9's `chroma run` is the Rust server, and it enforces no token: started
with a config file naming chromadb's token provider (chroma_server_authn_provider:
chromadb.auth.token_authn.TokenAuthenticationServerProvider, chroma_server_authn_credentials) it
still listed collections for a request without one (HTTP 200; checked by hand, 2026-12-02). So the
app's "auth refused" path is tested against something real that does refuse: this proxy answers
403 with Chroma's error body unless the request carries the token, and forwards the rest.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMA = ROOT / ".venv" / "bin" / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run --path <path> --host 127.0.0.1 --port <port>`, restartable on the same path and port."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = path.with_suffix(".log")

    def start(self, timeout: float = 60.0) -> ChromaServer:
        exe = str(CHROMA) if CHROMA.exists() else "chroma"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([exe, "run", "--path", str(self.path), "--host", "127.0.0.1",
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            if self.heartbeat():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run gave no heartbeat in {timeout:.0f} s: {self.log.read_text()[-2000:]}")

    def heartbeat(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/api/v2/heartbeat")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 20)
        self.proc = None


class TokenProxy:
    """Forwards to `upstream_port` only requests whose `header` is `expected`; 403 otherwise."""

    def __init__(self, upstream_port: int, header: str, expected: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get(header) != expected:
                    proxy.refused += 1
                    msg = b'{"error":"AuthorizationError","message":"Forbidden: missing or wrong token"}'
                    self.send_response(403)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
                up.request(self.command, self.path, body=body or None, headers=headers)
                resp = up.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                up.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args) -> None:
                pass

        self.refused = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def terminate(proc: subprocess.Popen, grace: float) -> None:
    """Stop a server process: SIGTERM, then SIGKILL after `grace` seconds (tests' servers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
