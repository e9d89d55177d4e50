"""What the answer step's verb check (rag/answer/events.py) costs, in one run.

    RAG_BBC_ARTICLES=… .venv/bin/python scripts/measure_verb_check.py [--workdir .cache/eval]

The dev questions (eval/bbc_dev.jsonl, eval/dev_qa.jsonl) on the seeds among the BBC stories (the
index `python -m rag.eval --benchmark bbc` keeps in the workdir, built here when missing). Each
question's answer step (`decide`, retrieval done beforehand) is timed three ways, in alternating
rounds, with the parse cache cleared before each question: the shipped lazy check (a parse only
when it could change the decision), a parse on every question, and none. Prints p50/p95 and the
p50 ratio to "none".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import events  # noqa: E402
from rag.answer.extractive import Candidate, ExtractiveAnswerer  # noqa: E402
from rag.answer.question import Question  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.eval import haystack  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

ROUNDS = 3
LAZY = ExtractiveAnswerer.confidence


def always(self: ExtractiveAnswerer, question: Question, candidates: list[Candidate]) -> float:
    eligible = [c for c in candidates if c.eligible]
    if eligible:
        self.align(question, eligible[0])
    return LAZY(self, question, candidates)


def never(self: ExtractiveAnswerer, question: Question, candidates: list[Candidate]) -> float:
    eligible = [c for c in candidates if c.eligible]
    if eligible and eligible[0].same_event is None:
        eligible[0].same_event = False
    return LAZY(self, question, candidates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "eval")
    args = parser.parse_args()
    base = Config.from_env()
    corpus = args.workdir / "haystack-corpus"
    haystack.build(base.seeds_dir, haystack.default_articles(), corpus)
    pipeline = Pipeline(Config.from_env(seeds_dir=corpus, index_dir=args.workdir / "haystack-default" / "index"))
    pipeline.warm_up(sync=True)
    items = haystack.load_questions("dev") + load_gold(ROOT / "eval" / "dev_qa.jsonl")
    requests = [pipeline.prepare(i.question, i.history) for i in items]
    answerer = pipeline.answerer
    assert isinstance(answerer, ExtractiveAnswerer), "measures the default (extractive) mode"
    for r in requests:
        answerer.decide(r)  # warm: question parses, story views
    times: dict[str, list[float]] = {"lazy (shipped)": [], "parse every question": [], "no parse": []}
    ways = {"lazy (shipped)": LAZY, "parse every question": always, "no parse": never}
    for _ in range(ROUNDS):
        for name, way in ways.items():
            ExtractiveAnswerer.confidence = way  # type: ignore[method-assign]
            for r in requests:
                events._parse.cache_clear()
                t = time.perf_counter()
                answerer.decide(r)
                times[name].append(time.perf_counter() - t)
    ExtractiveAnswerer.confidence = LAZY  # type: ignore[method-assign]
    none = statistics.median(times["no parse"])
    print(f"{len(requests)} dev questions x {ROUNDS} rounds, answer step only (retrieval done before)")
    for name, ts in times.items():
        ts.sort()
        print(f"  {name:22s} p50 {1000 * statistics.median(ts):6.1f} ms  p95 {1000 * ts[int(0.95 * len(ts))]:6.1f} ms"
              f"  p50 / no parse {statistics.median(ts) / none:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
