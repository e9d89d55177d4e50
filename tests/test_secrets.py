"""No secrets in logs: the OpenAI key and the login file's passwords never appear in anything the
app writes, with every logger at DEBUG, through a start, a question answered in openai mode, a
failed login, a refused change, and config errors.

The OpenAI-compatible server is a fake (no such server runs here): a loopback HTTP server that
records the Authorization header it is sent and refuses every completion with HTTP 401, echoing
the key it was given (as some proxies do; OpenAI itself echoes a masked key), so the app takes its
fallback path, which logs the failure and notes it in the answer."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from app_server import AppProcess, app_env
from gradio_client import Client
from test_app import free_port

pytestmark = pytest.mark.slow


class FakeOpenAI(BaseHTTPRequestHandler):
    seen_auth: list[str] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        given = self.headers.get("Authorization", "")
        FakeOpenAI.seen_auth.append(given)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {given.removeprefix('Bearer ')}",
                                     "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test's own output quiet
        pass


@pytest.fixture
def fake_openai():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_no_key_or_password_in_any_output(tmp_path, fake_openai):
    key = "sk-test-" + secrets.token_hex(16)
    alice_pw, bob_pw, wrong_pw = (f"{name}-{secrets.token_hex(8)}" for name in ("alice", "bob", "wrong"))
    users = tmp_path / "users.txt"
    users.write_text(f"alice:{alice_pw}\nbob:{bob_pw}\n", encoding="utf-8")
    port = free_port()
    env = app_env(tmp_path, RAG_PORT=str(port), RAG_AUTH_FILE=str(users), RAG_ADMIN_USERS="alice",
                  RAG_ANSWER_MODE="openai", RAG_OPENAI_BASE_URL=fake_openai, RAG_OPENAI_API_KEY=key,
                  RAG_LLM_TIMEOUT="20")
    url = f"http://127.0.0.1:{port}/"
    app = AppProcess(tmp_path, env, debug=True)
    try:
        app.wait_until_serving(url)
        with pytest.raises(Exception):  # noqa: B017  (gradio_client's own error for a refused login)
            Client(url, auth=("alice", wrong_pw), verbose=False)
        bob = Client(url, auth=("bob", bob_pw), verbose=False)
        _, answer = bob.predict("What did Japan offer India?", [], api_name="/ask")
        with pytest.raises(Exception, match="only an admin can remove documents"):
            bob.predict("nothing.txt", api_name="/remove")
    finally:
        app.stop()
    served = app.output()
    # The question really went to the fake server with the key, and failed back to extractive.
    assert FakeOpenAI.seen_auth and all(h == f"Bearer {key}" for h in FakeOpenAI.seen_auth)
    assert answer["mode_used"] == "extractive" and not answer["abstained"]
    assert "Incorrect API key provided" in answer["notes"][0] and key not in json.dumps(answer)
    assert "DEBUG" in served  # the libraries' debug lines were captured, not just the app's own

    errors = []
    # A login file whose line lacks its colon, a Chroma or OpenAI address with a password in it.
    (tmp_path / "typo.txt").write_text(f"alice:{alice_pw}\nbob{bob_pw}\n", encoding="utf-8")
    for bad in ({"RAG_TOP_K": "many"}, {"RAG_ADMIN_USERS": "mallory"}, {"RAG_AUTH_FILE": str(tmp_path / "gone.txt")},
                {"RAG_AUTH_FILE": str(tmp_path / "typo.txt")},
                {"RAG_CHROMA_URL": f"http://admin:{alice_pw}@127.0.0.1:8000/db"},
                {"RAG_OPENAI_BASE_URL": f"ftp://alice:{alice_pw}@127.0.0.1/v1"}):
        failed = AppProcess(tmp_path, {**env, **bad}, debug=True)
        assert failed.wait(300) == 2, failed.output()[-2000:]
        errors.append(failed.output())
    assert "error: RAG_TOP_K='many' is not a valid int" in errors[0]
    assert "line 2: expected user:password" in errors[3]

    for text in [served, *errors]:
        for secret in (key, alice_pw, bob_pw, wrong_pw):
            assert secret not in text
