"""No open door by accident: app.py refuses a non-loopback address without a login file, and a bad
admin list, before any model loads; --insecure (or RAG_INSECURE=1) starts with a warning instead.
No model here: the pipeline is replaced by a tripwire that records that the start got that far."""

from __future__ import annotations

import pytest
from app_server import AppProcess, app_env
from gradio_client import Client
from test_app import free_port, load_app_module

from rag.web.auth import Access, is_loopback


class ModelsLoading(Exception):
    """Raised where the real start would load the models: the checks before it have passed."""


@pytest.fixture
def app(monkeypatch):
    module = load_app_module()

    def tripwire(*args, **kwargs):
        raise ModelsLoading

    monkeypatch.setattr(module, "Pipeline", tripwire)
    for var in ("RAG_HOST", "RAG_AUTH_FILE", "RAG_INSECURE", "RAG_ADMIN_USERS"):
        monkeypatch.delenv(var, raising=False)
    return module


def start(app, capsys, *argv: str) -> tuple[int | str, list[str]]:
    """main()'s exit code ("models" when it got as far as loading them) and its stderr lines."""
    try:
        code: int | str = app.main(list(argv))
    except ModelsLoading:
        code = "models"
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "dossier.example.org", ""])
def test_an_exposed_address_without_a_login_is_refused(app, capsys, host):
    code, err = start(app, capsys, "--host", host)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: refusing to serve") and "RAG_AUTH_FILE" in err[0] and "--insecure" in err[0]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_login(app, capsys, host):
    code, err = start(app, capsys, "--host", host)
    assert code == "models" and not any("warning" in line or "error" in line for line in err)


def test_insecure_starts_with_a_warning(app, capsys, monkeypatch):
    code, err = start(app, capsys, "--host", "0.0.0.0", "--insecure")
    assert code == "models" and err[0].startswith("warning: serving '0.0.0.0' with no login (--insecure)")
    monkeypatch.setenv("RAG_INSECURE", "1")
    code, err = start(app, capsys, "--host", "0.0.0.0")
    assert code == "models" and err[0].startswith("warning: serving '0.0.0.0' with no login")


def test_a_login_file_opens_any_address(app, capsys, monkeypatch, tmp_path):
    (tmp_path / "users.txt").write_text("alice:s3cret\n", encoding="utf-8")
    monkeypatch.setenv("RAG_AUTH_FILE", str(tmp_path / "users.txt"))
    code, err = start(app, capsys, "--host", "0.0.0.0")
    assert code == "models" and not any("warning" in line for line in err)


def test_admins_must_be_users_of_the_login_file(app, capsys, monkeypatch, tmp_path):
    (tmp_path / "users.txt").write_text("alice:s3cret\nbob:hunter2\n", encoding="utf-8")
    monkeypatch.setenv("RAG_ADMIN_USERS", "alice, mallory")
    code, err = start(app, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: RAG_ADMIN_USERS needs RAG_AUTH_FILE")
    monkeypatch.setenv("RAG_AUTH_FILE", str(tmp_path / "users.txt"))
    code, err = start(app, capsys)
    assert code == 2 and len(err) == 1 and "mallory" in err[0] and "alice" not in err[0] and "users.txt" in err[0]
    monkeypatch.setenv("RAG_ADMIN_USERS", "alice,bob")
    assert start(app, capsys)[0] == "models"


def test_the_admin_rule():
    assert Access().denial("anyone", "upload documents") is None  # unset: every logged-in user may
    admins = Access(frozenset({"alice"}))
    assert admins.denial("alice", "upload documents") is None
    assert admins.denial("carol", "upload documents") == (
        "only an admin can upload documents (RAG_ADMIN_USERS); you are logged in as carol, so the documents are unchanged")
    assert "not logged in" in (admins.denial(None, "remove documents") or "")
    assert not is_loopback("0.0.0.0") and not is_loopback("127.0.0.1.nip.io") and is_loopback("127.255.0.1")


@pytest.mark.slow
def test_insecure_really_serves_every_interface(tmp_path):
    """The real start with --insecure on 0.0.0.0 (all interfaces, for the seconds of this test, over
    a copy of the seeds): the warning line, then answers with no login; without the flag, exit 2."""
    port = free_port()
    refused = AppProcess(tmp_path, app_env(tmp_path), "--host", "0.0.0.0", "--port", str(port))
    assert refused.wait(120) == 2
    assert "RAG_AUTH_FILE" in refused.output() and "Loading the models" not in refused.output()
    app = AppProcess(tmp_path, app_env(tmp_path), "--host", "0.0.0.0", "--port", str(port), "--insecure")
    try:
        app.wait_until_serving(f"http://127.0.0.1:{port}/")
        text, answer = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            "What did Japan offer India?", [], api_name="/ask")
        assert not answer["abstained"] and "[1]" in text
    finally:
        app.stop()
    warnings = [line for line in app.output().splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: serving '0.0.0.0' with no login (--insecure): anyone who can reach this machine "
                        "can ask, upload and remove documents"]


def test_secrets_are_redacted_from_messages(monkeypatch):
    from rag.config import Config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    config = Config(openai_api_key="sk-abc123456789", chroma_token="tok-0987654321")
    echoed = "Incorrect API key provided: sk-abc123456789; token tok-0987654321; env sk-from-the-environment"
    assert config.redact(echoed) == "Incorrect API key provided: [redacted]; token [redacted]; env [redacted]"
    assert config.redact("cannot reach https://admin:pa55@10.0.0.5:8000/v1 or http://tok@h:1") == \
        "cannot reach https://[redacted]@10.0.0.5:8000/v1 or http://[redacted]@h:1"
    assert "sk-abc123456789" not in repr(config) and "tok-0987654321" not in repr(config)
