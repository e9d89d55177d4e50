"""A shared app asks for a login (RAG_AUTH_FILE): the page and every API endpoint, through a real
Gradio server and gradio_client; the login file itself is checked before anything loads."""

from __future__ import annotations

import pytest
from conftest import make_config
from gradio_client import Client
from test_app import block_network, free_port, load_app_module

from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.web.auth import checker, read_users

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, embedder):
    tmp = tmp_path_factory.mktemp("auth")
    users = tmp / "users.txt"
    users.write_text("# team accounts\nalice:correct horse\nbob:battery:staple\n", encoding="utf-8")
    app = load_app_module()
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        config = make_config(tmp, port=free_port(), auth_file=users)
        pipeline = Pipeline(config, embedder=embedder).warm_up()
        demo = app.create_app(pipeline)
        _, url, _ = app.launch(demo, config, prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_no_login_no_answers(guarded):
    import httpx

    assert httpx.get(guarded, timeout=30).status_code == 200  # the login page itself
    assert httpx.get(f"{guarded}config", timeout=30).status_code == 401
    with pytest.raises(Exception):  # noqa: B017  (gradio_client raises its own errors for a 401)
        Client(guarded, verbose=False).predict("What did Japan offer India?", [], api_name="/ask")
    with pytest.raises(Exception):  # noqa: B017
        Client(guarded, auth=("alice", "wrong"), verbose=False)


def test_a_known_user_is_answered(guarded):
    text, answer = Client(guarded, auth=("bob", "battery:staple"), verbose=False).predict(
        "What did Japan offer India?", [], api_name="/ask")
    assert not answer["abstained"] and "[1]" in text


def test_the_login_file_is_checked(tmp_path):
    (tmp_path / "empty.txt").write_text("# nobody yet\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_text("alice\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no user:password lines"):
        read_users(tmp_path / "empty.txt")
    with pytest.raises(ConfigError, match="line 1: expected user:password"):
        read_users(tmp_path / "bad.txt")
    with pytest.raises(ConfigError, match="cannot be read"):
        read_users(tmp_path / "missing.txt")
    check = checker({"alice": "s3cret"})
    assert check("alice", "s3cret") and not check("alice", "s3cre") and not check("mallory", "s3cret")
