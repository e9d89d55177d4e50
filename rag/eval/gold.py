"""Evaluation questions: the gold/dev sets (eval/*.jsonl) and any benchmark turned into the same shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import ROOT

GOLD = ROOT / "eval" / "gold_qa.jsonl"


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answer: str  # reference answer
    facts: list[list[str]]  # every fact required; each fact a list of accepted alternatives
    doc_ids: list[str]  # documents that hold the answer
    evidence: list[str] = field(default_factory=list)  # verbatim supporting spans
    type: str = ""
    history: list[str] = field(default_factory=list)  # earlier user questions, oldest first
    answerable: bool = True
    references: list[str] = field(default_factory=list)  # answers token F1 is taken against (best)

    @property
    def refs(self) -> list[str]:
        return self.references or [self.answer]


def load_gold(path: Path | str = GOLD) -> list[GoldItem]:
    """Read a gold file (one JSON object per line); a malformed record is reported by id and line."""
    items: list[GoldItem] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                items.append(
                    GoldItem(
                        id=str(r["id"]),
                        question=r["question"],
                        answer=r.get("answer", ""),
                        facts=[list(f) for f in r.get("facts", [])],
                        doc_ids=list(r.get("doc_ids", [])),
                        evidence=list(r.get("evidence", [])),
                        type=r.get("type", ""),
                        history=list(r.get("history", [])),
                        answerable=bool(r.get("answerable", True)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a valid gold record ({exc})") from exc
    if len({i.id for i in items}) != len(items):
        raise ValueError(f"{path}: two records share an id")
    return items
