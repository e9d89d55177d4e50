"""Every bad input gets a specific message (and the CLI a non-zero exit); nothing indexed is lost."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import ConfigError, CorpusError, QuestionError
from rag.pipeline import Pipeline, safe_filename

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("question, message", [("", "empty"), ("   \n\t ", "empty"), ("x" * 1001, "1,001 characters long; the limit is 1,000")])
def test_bad_questions(seed_pipeline, question, message):
    with pytest.raises(QuestionError, match=message):
        seed_pipeline.ask(question)


@pytest.mark.slow
def test_missing_seeds_folder(tmp_path, embedder):
    p = Pipeline(Config.from_env(seeds_dir=tmp_path / "nope", index_dir=tmp_path / "index"), embedder=embedder)
    with pytest.raises(CorpusError, match="nope does not exist"):
        p.warm_up()


@pytest.mark.slow
def test_empty_seeds_folder(tmp_path, embedder):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "notes.xlsx").write_bytes(b"PK\x03\x04")
    p = Pipeline(Config.from_env(seeds_dir=tmp_path / "seeds", index_dir=tmp_path / "index"), embedder=embedder)
    with pytest.raises(CorpusError, match=r"holds no \.txt, \.md, \.html, \.pdf or \.docx files"):
        p.index()


@pytest.mark.slow
def test_unreadable_file(fresh_pipeline):
    if os.geteuid() == 0:
        pytest.skip("root reads any file; permission errors cannot be produced")
    path = fresh_pipeline.config.seeds_dir / "secret.txt"
    path.write_text("text")
    path.chmod(0)
    with pytest.raises(CorpusError, match="secret.txt: cannot be read"):
        fresh_pipeline.index()


@pytest.mark.slow
def test_unreadable_file_via_folder_named_like_an_article(fresh_pipeline):
    # A path that cannot be read as a file: an article-named folder with an unreadable entry.
    path = fresh_pipeline.config.seeds_dir / "dangling.txt"
    path.symlink_to(fresh_pipeline.config.seeds_dir / "does-not-exist.txt")
    with pytest.raises(CorpusError, match="dangling.txt: cannot be read"):
        fresh_pipeline.index()


@pytest.mark.slow
def test_file_with_only_boilerplate(fresh_pipeline):
    (fresh_pipeline.config.seeds_dir / "menu.txt").write_text("Home\nSettings\nShare\nSubscribe\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="menu.txt: no article text found"):
        fresh_pipeline.index()


@pytest.mark.slow
def test_oversized_file(fresh_pipeline):
    p = Pipeline(fresh_pipeline.config.with_(max_file_bytes=4000), embedder=fresh_pipeline.embedder)
    with pytest.raises(CorpusError, match=r"bytes is over the 4,000-byte limit"):
        p.index()


def test_bad_config_values():
    with pytest.raises(ConfigError, match="retrieval must be"):
        Config.from_env(retrieval="magic")
    with pytest.raises(ConfigError, match="answer_mode must be one of extractive, local, openai, not 'llm'"):
        Config.from_env(answer_mode="llm")
    # Modes are string enums: the plain string names the mode, and still compares equal to it.
    from rag.config import AnswerMode, Retrieval

    cfg = Config.from_env(answer_mode="local", retrieval="bm25")
    assert cfg.answer_mode is AnswerMode.LOCAL and cfg.answer_mode == "local" and cfg.retrieval is Retrieval.BM25
    with pytest.raises(ConfigError, match="embed_backend must be one of onnx, torch, not 'gpu'"):
        cfg.with_(embed_backend="gpu")
    os.environ["RAG_TOP_K"] = "lots"
    try:
        with pytest.raises(ConfigError, match="RAG_TOP_K='lots' is not a valid int"):
            Config.from_env()
    finally:
        del os.environ["RAG_TOP_K"]


def test_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "i"))
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.5")
    cfg = Config.from_env()
    assert (cfg.top_k, cfg.index_dir, cfg.dense_weight) == (7, tmp_path / "i", 0.5)


@pytest.mark.parametrize("name", ["../../etc/passwd.txt", "..\\..\\evil.md", "/abs/path/x.html"])
def test_upload_names_are_sanitised(name):
    clean = safe_filename(name)
    assert "/" not in clean and "\\" not in clean and not clean.startswith(".")


def test_upload_rejects_unsupported_types():
    with pytest.raises(CorpusError, match="unsupported file type"):
        safe_filename("payload.exe")


def run_cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_errors_exit_non_zero(tmp_path):
    env = {"RAG_SEEDS_DIR": str(tmp_path / "missing"), "RAG_INDEX_DIR": str(tmp_path / "index")}
    res = run_cli("index", env_extra=env)
    assert res.returncode == 2
    assert "error:" in res.stderr and "does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("ask", "   ", env_extra=env)
    assert res.returncode == 2 and "question is empty" in res.stderr
