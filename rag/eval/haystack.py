"""Real news as a haystack: the seed pages mixed among thousands of other stories.

The default haystack is the BBC News corpus of Greene & Cunningham (ICML 2006): 2,225 stories,
2004–05. The articles are read from the shared copy beside the repository and written to a work
folder as one file each; they are never copied into the repository (see its README for the
licence). `--corpus PATH` mixes any other folder of articles, or a JSONL file with one article a
record ({id, title, text}), among the seeds instead.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from rag.config import ROOT
from rag.eval.gold import GoldItem, load_gold

LICENCE = (
    "BBC News articles: D. Greene and P. Cunningham, ICML 2006 (mlg.ucd.ie/datasets/bbc.html). "
    "All rights in the articles are owned by the BBC; non-commercial research use only."
)
QUESTIONS = {"dev": ROOT / "eval" / "bbc_dev.jsonl", "test": ROOT / "eval" / "bbc_test.jsonl"}


def default_articles() -> Path:
    """The shared copy beside the repository; RAG_BBC_ARTICLES points elsewhere."""
    return Path(os.environ.get("RAG_BBC_ARTICLES") or ROOT.parent / "shared" / "benchmarks" / "bbc_news" / "articles.jsonl")


def load_questions(split: str) -> list[GoldItem]:
    """The BBC questions of one split ("dev", "test") or of both ("all")."""
    splits = list(QUESTIONS) if split == "all" else [split]
    if any(s not in QUESTIONS for s in splits):
        raise ValueError(f"unknown BBC split {split!r}; use dev, test or all")
    return [item for s in splits for item in load_gold(QUESTIONS[s])]


def read_articles(path: Path) -> list[dict]:
    """Articles {id, title, text} from a JSONL file; a record without them is reported by line."""
    if not path.exists():
        raise FileNotFoundError(f"articles not found at {path}; set RAG_BBC_ARTICLES or pass --corpus")
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            missing = [k for k in ("id", "text") if not record.get(k)]
            if missing:
                raise ValueError(f"{path}:{n}: article record has no {' or '.join(missing)}")
            out.append(record)
    return out


def build(seeds: Path, corpus: Path, folder: Path) -> int:
    """Write the seed pages and the haystack articles side by side into `folder`, so that every
    document keeps the id it has on its own (a file's id is its path in the corpus folder).
    Unchanged files are left alone: the index under the folder is then reused incrementally.
    Returns the number of haystack articles."""
    wanted: dict[str, bytes] = {}
    for p in sorted(seeds.rglob("*")):
        rel = p.relative_to(seeds)
        if p.is_file() and not any(part.startswith(".") or part == "uploads" for part in rel.parts):
            wanted[str(rel)] = p.read_bytes()
    seed_count = len(wanted)
    if corpus.is_dir():
        for p in sorted(corpus.rglob("*")):
            rel = p.relative_to(corpus)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                wanted.setdefault(str(rel), p.read_bytes())
    else:
        for a in read_articles(corpus):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(a["id"])) + ".txt"
            # Header lines the cleaner reads as metadata.
            header = f"Title: {a['title']}\n" if a.get("title") else ""
            if a.get("date"):
                header += f"Date: {a['date']}\n"
            header += f"Publisher: {a.get('publisher', 'BBC News')}\n\n"
            wanted.setdefault(name, f"{header}{a['text']}\n".encode())
    folder.mkdir(parents=True, exist_ok=True)
    for old in [p for p in folder.rglob("*") if p.is_file()]:
        if str(old.relative_to(folder)) not in wanted:
            old.unlink()
    for name, data in wanted.items():
        path = folder / name
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return len(wanted) - seed_count
