"""External benchmark: RGB en_fact (Chen et al., AAAI 2024, "Benchmarking Large Language Models in
Retrieval-Augmented Generation", github.com/chen700564/RGB, data/en_fact.json).

Licence of the data: CC BY-NC-SA 4.0 (attribution, non-commercial, share-alike). Keep this notice
with any copy of the data or of figures derived from it.

The 969 short web passages become one `<pid>.txt` file each, so a document id is a passage id.
Our cleaner is built for scraped news pages and rejects some snippets as having no article text;
those are left out of our index (indexing stops at a file it cannot parse) and listed in the
report, while the baseline indexes every file as it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import ROOT
from rag.errors import CorpusError
from rag.eval.gold import GoldItem
from rag.eval.metrics import SystemOutput, normalised_match, words
from rag.ingest.loaders import parse

LICENCE = (
    "RGB en_fact data: Chen et al., AAAI 2024, github.com/chen700564/RGB. "
    "Licence: CC BY-NC-SA 4.0 (attribution, non-commercial, share-alike)."
)


def default_dir() -> Path:
    """The shared copy beside the repository; RAG_RGB_DIR points elsewhere."""
    return Path(os.environ.get("RAG_RGB_DIR") or ROOT.parent / "shared" / "benchmarks" / "rgb_en_fact")


@dataclass
class Corpus:
    all_dir: Path  # every passage: what the baseline indexes
    clean_dir: Path  # passages our cleaner accepts: what our pipeline indexes
    passages: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # pid → why the cleaner rejected it
    trimmed: dict[str, int] = field(default_factory=dict)  # pid → words the cleaner dropped

    def summary(self) -> dict:
        return {
            "passages": self.passages,
            "indexed_by_ours": self.passages - len(self.skipped),
            "skipped": dict(self.skipped),
            "trimmed": dict(self.trimmed),
        }


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load(folder: Path | None = None) -> tuple[list[dict], list[GoldItem]]:
    """The passages {pid, text} and the queries as gold items."""
    folder = folder or default_dir()
    if not (folder / "en_fact_corpus.jsonl").exists():
        raise FileNotFoundError(f"RGB data not found in {folder}; set RAG_RGB_DIR or pass --rgb-dir")
    passages = _read_jsonl(folder / "en_fact_corpus.jsonl")
    items = []
    for q in _read_jsonl(folder / "en_fact_queries.jsonl"):
        # RGB's rule: every entry of `answers` must appear; an entry that is a list is alternatives.
        facts = [[a] if isinstance(a, str) else list(a) for a in q["answers"]]
        items.append(
            GoldItem(
                id=f"rgb{int(q['id']):03d}",
                question=q["query"],
                answer=facts[0][0],
                facts=facts,
                doc_ids=list(q["gold_pids"]),
                type="rgb",
                references=[alt for alts in facts for alt in alts],
            )
        )
    return passages, items


def write_corpus(passages: list[dict], workdir: Path) -> Corpus:
    """One .txt file per passage; passages our cleaner rejects go only to the baseline's folder."""
    corpus = Corpus(workdir / "all", workdir / "clean", passages=len(passages))
    corpus.all_dir.mkdir(parents=True, exist_ok=True)
    corpus.clean_dir.mkdir(parents=True, exist_ok=True)
    for p in passages:
        name, data = f"{p['pid']}.txt", p["text"].encode("utf-8")
        (corpus.all_dir / name).write_bytes(data)
        try:
            docs = parse(name, data, ".txt")
        except CorpusError as exc:
            corpus.skipped[p["pid"]] = str(exc).removeprefix(f"{name}: ")
            continue
        (corpus.clean_dir / name).write_bytes(data)
        kept = sum(len(words(d.text)) for d in docs)
        if kept < len(words(p["text"])):
            corpus.trimmed[p["pid"]] = len(words(p["text"])) - kept
    return corpus


def extra_score(item: GoldItem, out: SystemOutput) -> dict[str, float]:
    """RGB's answer figure, normalised exact match (every required answer appears), scored on the
    direct answer when the system gives one and on its whole text otherwise; `short_exact` counts
    only direct answers, `short_given` how often there is one."""
    text = "" if out.abstained else (out.short or out.text)
    short = "" if out.abstained else out.short
    return {"exact_match": float(all(normalised_match(text, alts) for alts in item.facts)),
            "short_exact": float(bool(short) and all(normalised_match(short, alts) for alts in item.facts)),
            "short_given": float(bool(short))}
