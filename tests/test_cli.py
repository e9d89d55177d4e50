"""The CLI end to end, in a subprocess, against its own index."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_index_ask_sources(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds", ignore=shutil.ignore_patterns("uploads"))
    env = {**os.environ, "RAG_SEEDS_DIR": str(tmp_path / "seeds"), "RAG_INDEX_DIR": str(tmp_path / "index")}

    def run(*args):
        res = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert "8 documents" in run("index")
    assert "embedded 0 chunks" in run("index")
    out = run("ask", "What did Japan offer India?")
    assert "[1]" in out and "Sources:" in out
    assert "India seeks deeper defence ties with Japan amid push for strategic self-reliance" in out
    data = json.loads(run("ask", "What did Japan offer India?", "--json"))
    assert data["citations"][0]["snippet"] and data["abstained"] is False
    listing = run("sources")
    assert listing.count("\n") == 8 and "Is Tesla stalling on India?" in listing
