"""Named configurations to compare. A configuration is data: `Config` overrides on top of the defaults.

A new answer mode needs no code here: `--config mymode:answer_mode=mymode` (or an entry below).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from rag.config import Config, coerce, field_type, tunable_type
from rag.errors import ConfigError
from rag.tunables import GROUPS

PIPELINE = "pipeline"
BASELINE = "baseline"


@dataclass(frozen=True)
class EvalConfig:
    name: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)
    kind: str = PIPELINE  # pipeline: our Pipeline with `overrides`; baseline: llama-index defaults


CONFIGS: dict[str, EvalConfig] = {
    c.name: c
    for c in [
        EvalConfig("default", "the product default: hybrid retrieval (dense + BM25, RRF) and extractive answers"),
        EvalConfig("dense", "dense retrieval only (MiniLM on Chroma), extractive answers", {"retrieval": "dense"}),
        EvalConfig("bm25", "BM25 retrieval only, extractive answers", {"retrieval": "bm25"}),
        EvalConfig("local", "hybrid retrieval, answers by the in-process GGUF model", {"answer_mode": "local"}),
        EvalConfig("openai", "hybrid retrieval, answers by an OpenAI-compatible server", {"answer_mode": "openai"}),
        EvalConfig(
            "baseline",
            "llama-index plain defaults: SimpleDirectoryReader, SentenceSplitter(1024), VectorStoreIndex "
            "on Chroma, same MiniLM, same top-k as ours; answer = text of the top chunk",
            kind=BASELINE,
        ),
    ]
}
# The comparison `python -m rag.eval` runs when no --config is given; unavailable modes are skipped.
DEFAULT_RUN = ["default", "dense", "bm25", "local", "openai", "baseline"]
RGB_RUN = ["default", "baseline"]


def resolve(specs: list[str]) -> list[EvalConfig]:
    """Configurations from command-line specs.

    A spec is a known name ("dense"), or "name:key=value,key=value" for an ad-hoc variant of the
    defaults ("wide:top_k=8,candidates=40"), or "known:key=value" to change a known one.
    """
    out: list[EvalConfig] = []
    for spec in specs:
        name, _, assignments = spec.partition(":")
        name = name.strip()
        base = CONFIGS.get(name)
        if base is None and not assignments:
            known = ", ".join(CONFIGS)
            raise ConfigError(f"unknown configuration {name!r}; use one of {known}, or NAME:key=value,...")
        overrides = parse_overrides(assignments) if assignments else {}
        if base is None:
            out.append(EvalConfig(name, f"defaults with {assignments}", overrides))
        elif overrides:
            if base.kind != PIPELINE:
                raise ConfigError(f"configuration {name!r} takes no settings")
            out.append(EvalConfig(name, f"{base.description}; with {assignments}", {**base.overrides, **overrides}))
        else:
            out.append(base)
    if len({c.name for c in out}) != len(out):
        raise ConfigError("two configurations share a name; name ad-hoc ones NAME:key=value")
    return out


def parse_overrides(assignments: str) -> dict[str, Any]:
    """"top_k=8,retrieval=dense" → {"top_k": 8, "retrieval": "dense"}, typed like the Config field.

    A tunable is group.field (rag/tunables.py): "answer.min_words=8" → {"answer.min_words": 8}.
    """
    types = {f.name: field_type(f.name) for f in fields(Config) if f.name not in GROUPS}
    overrides: dict[str, Any] = {}
    for part in assignments.split(","):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if sep and "." in key:
            overrides[key] = coerce(raw.strip(), tunable_type(key), key)  # names the valid ones when wrong
            continue
        if not sep or key not in types:
            raise ConfigError(f"bad setting {part!r}: write key=value with a Config field ({', '.join(types)}) "
                              f"or group.field with a tunable ({', '.join(GROUPS)}: see rag/tunables.py)")
        overrides[key] = coerce(raw.strip(), types[key], key)
    return overrides

