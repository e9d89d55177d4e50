"""Run one configuration over a question set: build its index in a temp folder, ask, score."""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.config import Config, tunable_keys
from rag.eval.configs import BASELINE, EvalConfig
from rag.eval.gold import GoldItem
from rag.eval.metrics import EvidenceLocator, QuestionScore, Retrieved, SystemOutput, aggregate, score_question
from rag.ingest.loaders import parse
from rag.schema import Fallback
from rag.store.embeddings import Embedder
from rag.store.indexer import read_folder

if TYPE_CHECKING:  # (imported in setup: the eval's CLI starts without the pipeline's imports)
    from rag.pipeline import Pipeline

log = logging.getLogger(__name__)




class Unavailable(Exception):
    """The configuration's backend cannot run here (no model, no server); the run skips it."""


class System(Protocol):
    def setup(self) -> dict[str, Any]:
        """Build the index; return what to report about it. Raises Unavailable."""
        ...

    def settings(self) -> dict[str, Any]: ...

    def ask(self, question: str, history: list[str]) -> SystemOutput: ...

    def corpus(self) -> dict[str, str]:
        """doc_id → the text the system indexed, to locate gold evidence in."""
        ...

    def alias(self, doc_id: str) -> str: ...


@dataclass
class RunResult:
    benchmark: str
    config: EvalConfig
    status: str  # "ok" or "skipped"
    note: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    scores: list[QuestionScore] = field(default_factory=list)
    overall: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class PipelineSystem:
    """Our `Pipeline` with the configuration's overrides, indexing into its own temp folder."""

    def __init__(self, config: EvalConfig, seeds_dir: Path, workdir: Path, embedder: Embedder | None) -> None:
        self.eval_config = config
        self.config = Config.from_env(seeds_dir=seeds_dir, index_dir=workdir / "index").with_(**config.overrides)
        if self.config.chroma_url:  # a shared Chroma server: each configuration in its own collection
            name = re.sub(r"[^a-z0-9]+", "-", config.name.lower()).strip("-") or "default"
            self.config = self.config.with_(collection=f"{self.config.collection}-eval-{name}"[:60])
        # The shared model serves every configuration that embeds as it does; one that changes the
        # embedding (embed_quantize=true, another model or backend) gets its own, or it would
        # measure the shared model under another name.
        own = Embedder.from_config(self.config)
        same = embedder is not None and (own.name, own.requested_backend) == (embedder.name, embedder.requested_backend)
        self.embedder = embedder if same and embedder is not None else own
        self.pipeline: Pipeline | None = None

    def setup(self) -> dict[str, Any]:
        from rag.pipeline import Pipeline

        try:
            # The answer step is built and warmed before indexing, so a missing model or an
            # unknown mode is reported in seconds rather than after the index is built.
            pipeline = self.pipeline = Pipeline(self.config, embedder=self.embedder)
            pipeline.answerer.warm_up()
        except Exception as exc:  # any backend failure means "not available here", never a crash
            raise Unavailable(f"answer mode {self.config.answer_mode!r} is not available: {exc}") from exc
        t0 = time.perf_counter()
        pipeline.warm_up(sync=True)  # the benchmark's folder may have changed since --workdir kept it
        docs = pipeline.documents()
        return {
            "documents": len(docs),
            "chunks": sum(len(d.chunk_ids) for d in docs),
            "index_seconds": round(time.perf_counter() - t0, 2),
        }

    def settings(self) -> dict[str, Any]:
        keep = ("retrieval", "top_k", "candidates", "rrf_k", "dense_weight", "bm25_weight", "chunk_tokens",
                "chunk_overlap", "dedup_threshold", "answer_mode", "max_answer_sentences", "embed_model")
        out = {k: getattr(self.config, k) for k in keep}
        # The tunables a sweep changed (rag/tunables.py), as group.field; the defaults are left out.
        default = Config()
        for key in tunable_keys():
            group, name = key.split(".")
            value = getattr(getattr(self.config, group), name)
            if value != getattr(getattr(default, group), name):
                out[key] = value
        return out

    def answered_in_mode(self, out: SystemOutput) -> bool:
        """False when another mode gave the answer (a generative mode falling back to extractive).
        A refusal counts as in mode: generative modes leave refusals to the extractive check."""
        return out.abstained or not out.mode_used or out.mode_used.startswith(self.config.answer_mode)

    def probe(self, items: list[GoldItem], tries: int = 3) -> None:
        """A generative mode whose backend fails (no server, model erroring or timing out) falls
        back to extractive on every question: measuring it would measure extractive, slowly. Ask up
        to `tries` answerable questions the extractive check does not refuse; the mode is skipped
        when every one fell back because the backend failed. Fallbacks for other reasons (the
        model's sentences were not supported) are what the run should measure, so they pass."""
        failures: list[str] = []
        for item in (i for i in items if i.answerable and not i.history):
            out = self.ask(item.question, [])
            if out.abstained:
                continue  # the model was not asked
            if self.answered_in_mode(out) or out.fallback != Fallback.BACKEND_FAILED:
                return
            failures.append(f"it fell back to {out.mode_used!r}: {'; '.join(out.notes) or 'no reason given'}")
            if len(failures) >= tries:
                break
        why = failures[-1] if failures else "no answerable question to try it on"
        raise Unavailable(f"answer mode {self.config.answer_mode!r} is not available: {why}")

    def cold_start(self) -> None:
        """Empty the shared embedder's query cache: otherwise every configuration after the first
        reuses the query vectors the first one computed, and only the first pays for embedding."""
        self.embedder.clear_query_cache()

    def ask(self, question: str, history: list[str]) -> SystemOutput:
        t0 = time.perf_counter()
        assert self.pipeline is not None, "setup() first"
        a = self.pipeline.ask(question, history)
        return SystemOutput(
            text=a.text,
            abstained=a.abstained,
            passages=[Retrieved(p.chunk.doc_id, p.chunk.text) for p in a.passages],
            citations=[Retrieved(c.doc_id, c.snippet) for c in a.citations],
            seconds=time.perf_counter() - t0,
            mode_used=a.mode_used,
            notes=list(a.notes),
            short=a.short.text if a.short else "",
            fallback=str(a.fallback),
        )

    def corpus(self) -> dict[str, str]:
        files = read_folder(self.config.seeds_dir, self.config.max_file_bytes)
        return {d.doc_id: d.text for f in files for d in parse(f.source, f.data, f.suffix, self.config.cleaning)}

    def alias(self, doc_id: str) -> str:
        return doc_id


def make_system(config: EvalConfig, seeds_dir: Path, workdir: Path, embedder: Embedder) -> System:
    if config.kind == BASELINE:
        from rag.eval.baseline import BaselineSystem

        return BaselineSystem(seeds_dir, workdir, top_k=Config.from_env().top_k)
    return PipelineSystem(config, seeds_dir, workdir, embedder)


def run_config(
    config: EvalConfig,
    items: list[GoldItem],
    *,
    seeds_dir: Path,
    workdir: Path,
    embedder: Embedder,
    benchmark: str = "gold",
    extra_score: Callable[[GoldItem, SystemOutput], dict[str, float]] | None = None,
    progress: bool = True,
) -> RunResult:
    """Index `seeds_dir` for `config` under `workdir`, ask every item (follow-ups with their
    history) and score the answers. A backend that is not available gives a skipped result."""
    t0 = time.perf_counter()
    result = RunResult(benchmark, config, "ok")
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        system = make_system(config, seeds_dir, workdir, embedder)
        result.settings = system.settings()
        result.setup = system.setup()
        if isinstance(system, PipelineSystem):
            if system.config.answer_mode != "extractive":
                system.probe(items)
            system.cold_start()
    except Unavailable as exc:
        log.warning("%s: skipped: %s", config.name, exc)
        result.status, result.note = "skipped", str(exc)
        return result

    locator = EvidenceLocator(system.corpus())
    from tqdm import tqdm

    fallbacks = 0
    for item in tqdm(items, desc=f"{benchmark}/{config.name}", unit="q", disable=not progress, leave=False):
        try:
            out = system.ask(item.question, item.history)
        except Exception as exc:  # one failing question must not end the run; it scores as a failure
            log.error("%s %s failed:\n%s", config.name, item.id, traceback.format_exc())
            out = SystemOutput(text="", abstained=False, error=f"{type(exc).__name__}: {exc}")
        if isinstance(system, PipelineSystem) and not out.error and not system.answered_in_mode(out):
            fallbacks += 1
        score = score_question(item, out, locator, system.alias)
        if extra_score is not None:
            score.extra.update(extra_score(item, out))
        result.scores.append(score)
    result.overall = aggregate(result.scores)
    result.overall["fallbacks"] = fallbacks
    result.seconds = round(time.perf_counter() - t0, 1)
    return result
