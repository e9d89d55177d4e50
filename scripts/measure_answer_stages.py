"""Warm answer latency stage by stage on an index that exists, and the answers themselves.

    .venv/bin/python scripts/measure_answer_stages.py --seeds .cache/eval/haystack-corpus \
        --index .cache/eval/haystack-default/index --out answers.json

Asks every dev question (eval/bbc_dev.jsonl, then eval/dev_qa.jsonl) once through `Pipeline.ask`
after a few warm-up questions, and prints the median of each stage (`Answer.timings`) and the
whole answer's 95th percentile. The answers go to --out: run two commits on the same index and
compare the files to check that a speed-up left every answer as it was. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.eval import haystack  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

WARM_UP = 10  # questions asked before the clock starts (caches, first-call costs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=Path, required=True, help="the index's corpus folder")
    ap.add_argument("--index", type=Path, required=True, help="the index folder (not rebuilt)")
    ap.add_argument("--out", type=Path, help="write the answers (text, abstained, short) here")
    args = ap.parse_args()
    p = Pipeline(Config.from_env(seeds_dir=args.seeds, index_dir=args.index))
    p.warm_up(sync=False)
    questions = [i.question for i in haystack.load_questions("dev")]
    questions += [i.question for i in load_gold(ROOT / "eval" / "dev_qa.jsonl")]
    for q in questions[:WARM_UP]:
        p.ask(q)
    stages: dict[str, list[float]] = {}
    wall, answers = [], []
    for q in questions:
        t0 = time.perf_counter()
        a = p.ask(q)
        wall.append(time.perf_counter() - t0)
        for k, v in a.timings.items():
            stages.setdefault(k, []).append(v)
        answers.append([a.text, a.abstained, a.short.text if a.short else None])
    if args.out:
        args.out.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    p95 = statistics.quantiles(wall, n=20, method="inclusive")[-1]  # (numpy's default percentile method)
    print(json.dumps({"questions": len(questions), "p50_ms": round(statistics.median(wall) * 1000, 1),
                      "p95_ms": round(p95 * 1000, 1),
                      "stages_p50_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in stages.items()}}))


if __name__ == "__main__":
    main()
