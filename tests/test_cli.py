"""The CLI end to end, in a subprocess, against its own index; its printing of hand-built answers."""

import io
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rag import cli
from rag.schema import Answer, Citation, ShortAnswer

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "A deadly attack in Indian-administered Kashmir killed 26 tourists on April 22."


@pytest.mark.slow
def test_index_ask_sources(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds", ignore=shutil.ignore_patterns("uploads"))
    env = {**os.environ, "RAG_SEEDS_DIR": str(tmp_path / "seeds"), "RAG_INDEX_DIR": str(tmp_path / "index")}

    def run(*args):
        res = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert "8 documents" in run("index")
    assert "0 sentence pieces of the new stories embedded" in run("index")
    # The direct answer, when the answerer gives one, is in the JSON and first in the text.
    question = "How many tourists were killed in the attack in Kashmir?"
    data = json.loads(run("ask", question, "--json"))
    assert "short" in data
    out = run("ask", question)
    assert "\033[" not in out  # a pipe gets no ANSI codes
    if data["short"] is not None:
        assert out.splitlines()[0] == f"Answer: {data['short']['text']} [{data['short']['citation']}]"
        assert any(c["n"] == data["short"]["citation"] for c in data["citations"])
        # On a terminal the value is bold.
        assert on_a_terminal(env, "ask", question).splitlines()[0] == (
            f"Answer: \033[1m{data['short']['text']}\033[0m [{data['short']['citation']}]")
    else:
        assert not out.startswith("Answer:")
    out = run("ask", "What did Japan offer India?")
    assert "[1]" in out and "Sources:" in out
    assert "India seeks deeper defence ties with Japan amid push for strategic self-reliance" in out
    data = json.loads(run("ask", "What did Japan offer India?", "--json"))
    assert data["citations"][0]["snippet"] and data["abstained"] is False
    listing = run("sources")
    assert listing.count("\n") == 8 and "Is Tesla stalling on India?" in listing


def on_a_terminal(env: dict, *args: str) -> str:
    """The CLI's stdout when it is a terminal (a pseudo-terminal here)."""
    env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    main, child = pty.openpty()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, stdout=child, stderr=stderr)
        os.close(child)
        out = b""
        while True:
            try:
                piece = os.read(main, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not piece:
                break
            out += piece
        os.close(main)
        code = proc.wait(timeout=300)
        stderr.seek(0)
        assert code == 0, stderr.read().decode(errors="replace")
    return out.decode().replace("\r\n", "\n")


def kashmir_answer(short: ShortAnswer | None) -> Answer:
    doc = f"Officials met on Tuesday. {SENTENCE} Talks resume next month."
    start = doc.index(SENTENCE)
    c = Citation(n=1, doc_id="d1", title="Kashmir attack", source="d1.txt", snippet=SENTENCE,
                 start=start, end=start + len(SENTENCE), score=0.9, publisher="The Daily")
    return Answer(text=SENTENCE[:-1] + " [1].", citations=[c], abstained=False,
                  question="How many tourists were killed?", query="How many tourists were killed?", short=short)


def test_render_prints_the_short_answer_first():
    short = ShortAnswer(text="26", doc_id="d1", start=80, end=82, label="CARDINAL", citation=1, source="d1.txt")
    lines = cli.render(kashmir_answer(short)).splitlines()
    assert lines[0] == "Answer: 26 [1]"
    assert lines[1].startswith("A deadly attack") and lines[1].endswith("[1].")
    assert "Sources:" in lines and "[1] Kashmir attack (The Daily, d1.txt)" in lines
    # Bold on a terminal: only the value, the marker stays plain.
    assert cli.render(kashmir_answer(short), bold=True).splitlines()[0] == "Answer: \033[1m26\033[0m [1]"
    # Without a short answer the output starts with the text, as before.
    plain = cli.render(kashmir_answer(None))
    assert plain.startswith("A deadly attack") and "Answer:" not in plain and "\033[" not in plain


def test_render_folds_whitespace_in_the_short_answer():
    short = ShortAnswer(text="Robert\n  Sillerman", doc_id="d1", start=0, end=0, label="PERSON", citation=1)
    assert cli.render(kashmir_answer(short)).splitlines()[0] == "Answer: Robert Sillerman [1]"


class Stdout(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_bold_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", Stdout(tty=True))
    assert cli._bold_ok()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli._bold_ok()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(sys, "stdout", Stdout(tty=False))
    assert not cli._bold_ok()
