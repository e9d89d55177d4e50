"""Fit the extractive answer step's weights and thresholds on the dev questions only.

    .venv/bin/python scripts/fit_answer_model.py [--workdir .cache/fit] [--out rag/data/answer_model.json]

Dev data: eval/dev_qa.jsonl on the seed pages alone and on the seeds among the BBC stories, and
eval/bbc_dev.jsonl on the seeds among the BBC stories. The test halves (eval/gold_qa.jsonl,
eval/bbc_test.jsonl) are never read here.

1. Every question goes through the real pipeline (retrieval included); each sentence of the
   retrieved stories that passes the evidence checks is a training row: its features
   (rag.extractive.FEATURES), labelled 1 when it is in a story that answers the question and holds
   one of the question's facts.
2. A logistic regression (scikit-learn, L2) gives the weights.
3. The abstention threshold and the join ratio are chosen on the same dev questions by replaying
   the decision: the threshold maximises the mean of abstention recall on unanswerable questions
   and answered-right on answerable ones; the join ratio maximises fact recall plus citation
   precision.
The result, with the data it came from, is written to rag/data/answer_model.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.embeddings import Embedder  # noqa: E402
from rag.eval import haystack  # noqa: E402
from rag.eval.gold import GoldItem, load_gold  # noqa: E402
from rag.eval.metrics import fact_present  # noqa: E402
from rag.extractive import FEATURES, MODEL_FILE, ExtractiveAnswerer, load_model, unknown_names  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

DEV_SEEDS = ROOT / "eval" / "dev_qa.jsonl"
C_REGULARISATION = 1.0  # scikit-learn's default; features are all on a 0-1 scale


def collect(pipeline: Pipeline, items: list[GoldItem], set_name: str) -> list[dict]:
    """One record per question: its eligible candidates' features and labels."""
    answerer = ExtractiveAnswerer(pipeline.config, model=load_model())
    out = []
    for item in items:
        request = pipeline.prepare(item.question, item.history)
        question = answerer.analyse(request)
        blocked = bool(unknown_names(question, request.snapshot))
        rows = []
        for c in answerer.candidates(request, question):
            if not c.eligible:
                continue
            right = item.answerable and c.row.doc_id in item.doc_ids and any(
                fact_present(c.row.text, alts) for alts in item.facts)
            facts = [i for i, alts in enumerate(item.facts) if fact_present(c.row.text, alts)] if right else []
            rows.append({"x": c.features.tolist(), "y": int(right), "facts": facts, "vector": c.vector.tolist()})
        out.append({"set": set_name, "id": item.id, "answerable": item.answerable, "facts": len(item.facts),
                    "blocked": blocked, "rows": rows})
    return out


def fit(records: list[dict]) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    X = np.array([r["x"] for q in records for r in q["rows"]])
    y = np.array([r["y"] for q in records for r in q["rows"]])
    model = LogisticRegression(C=C_REGULARISATION, max_iter=2000)
    model.fit(X, y)
    return model.coef_[0], float(model.intercept_[0])


def replay(records: list[dict], w: np.ndarray, b: float, tau: float, join: float, same: float, max_sent: int = 3) -> dict:
    """The answer step's decision on the recorded candidates, scored like rag.eval does."""
    refused = answered_right = abstained = 0
    recall: list[float] = []
    precision: list[float] = []
    for q in records:
        rows = sorted(q["rows"], key=lambda r: -(b + np.dot(w, r["x"])))
        probs = [1 / (1 + np.exp(-(b + np.dot(w, r["x"])))) for r in rows]
        answers = not q["blocked"] and rows and probs[0] >= tau
        if not q["answerable"]:
            abstained += not answers
            continue
        if not answers:
            refused += 1
            recall.append(0.0)
            continue
        chosen = [0]
        for i in range(1, len(rows)):
            if len(chosen) >= max_sent or probs[i] < max(tau, join * probs[0]):
                break
            v = np.array(rows[i]["vector"])
            if any(float(v @ np.array(rows[j]["vector"])) >= same for j in chosen):
                continue
            chosen.append(i)
        found = {f for i in chosen for f in rows[i]["facts"]}
        recall.append(len(found) / max(1, q["facts"]))
        precision.append(sum(rows[i]["y"] for i in chosen) / len(chosen))
        answered_right += rows[0]["y"]
    n_ans = sum(q["answerable"] for q in records)
    n_un = len(records) - n_ans
    return {"abstain_recall": abstained / max(1, n_un), "refused": refused / max(1, n_ans),
            "answered_right": answered_right / max(1, n_ans), "fact_recall": float(np.mean(recall)) if recall else 0.0,
            "cit_precision": float(np.mean(precision)) if precision else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "eval",
                        help="indexes kept between runs (shared with `python -m rag.eval --workdir .cache/eval`)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--corpus", type=Path, help="haystack articles (default: the shared BBC copy)")
    args = parser.parse_args(argv)
    base = Config.from_env()
    embedder = Embedder.from_config(base)
    embedder.warm_up()
    work = args.workdir.resolve()
    seeds = work / "seeds"
    shutil.copytree(base.seeds_dir, seeds, ignore=shutil.ignore_patterns("uploads", ".*"), dirs_exist_ok=True)
    hay = work / "haystack-corpus"
    haystack.build(base.seeds_dir, args.corpus or haystack.default_articles(), hay)
    t0 = time.perf_counter()
    only_seeds = Pipeline(Config.from_env(seeds_dir=seeds, index_dir=work / "gold-default" / "index"), embedder=embedder).warm_up()
    mixed = Pipeline(Config.from_env(seeds_dir=hay, index_dir=work / "haystack-default" / "index"), embedder=embedder).warm_up()
    print(f"indexes ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    dev_seeds, dev_bbc = load_gold(DEV_SEEDS), haystack.load_questions("dev")
    records = (collect(only_seeds, dev_seeds, "dev_qa/seeds") + collect(mixed, dev_seeds, "dev_qa/haystack")
               + collect(mixed, dev_bbc, "bbc_dev/haystack"))
    w, b = fit(records)
    same = load_model().same_fact_cosine
    taus = np.round(np.arange(0.05, 0.91, 0.025), 3)
    joins = np.round(np.arange(0.5, 1.01, 0.05), 2)
    # Threshold first (the join ratio does not change whether a question is answered), then the join ratio.
    tau_scores = {float(t): replay(records, w, b, t, 1.0, same) for t in taus}
    tau = max(tau_scores, key=lambda t: (tau_scores[t]["abstain_recall"] + tau_scores[t]["answered_right"], -t))
    join_scores = {float(j): replay(records, w, b, tau, j, same) for j in joins}
    join = max(join_scores, key=lambda j: (join_scores[j]["fact_recall"] + join_scores[j]["cit_precision"], j))
    chosen = join_scores[join]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import sklearn

    result = {
        "features": list(FEATURES),
        "weights": [round(float(v), 4) for v in w],
        "bias": round(b, 4),
        "abstain_below": tau,
        "join_ratio": join,
        "same_fact_cosine": same,
        "provenance": {
            "script": "scripts/fit_answer_model.py",
            "fitted": time.strftime("%Y-%m-%d"),
            "commit": commit,
            "data": {name: {"questions": sum(q["set"] == name for q in records),
                            "rows": sum(len(q["rows"]) for q in records if q["set"] == name)}
                     for name in dict.fromkeys(q["set"] for q in records)},
            "positives": int(sum(r["y"] for q in records for r in q["rows"])),
            "model": f"scikit-learn {sklearn.__version__} LogisticRegression(C={C_REGULARISATION})",
            "threshold_rule": "max abstain recall + answered right (dev), then max fact recall + citation precision for the join ratio",
            "dev_replay": {k: round(v, 3) for k, v in chosen.items()},
            "same_fact_cosine": "kept from the previous hand setting (measured 2026-11-23 on dev_qa)",
        },
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("weights", "bias", "abstain_below", "join_ratio")}))
    print(json.dumps(result["provenance"]["dev_replay"]))
    (work / "records.json").write_text(json.dumps([replace_vectors(q) for q in records]))
    return 0


def replace_vectors(q: dict) -> dict:
    return {**q, "rows": [{k: v for k, v in r.items() if k != "vector"} for r in q["rows"]]}


if __name__ == "__main__":
    raise SystemExit(main())
