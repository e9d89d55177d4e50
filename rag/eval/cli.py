"""`python -m rag.eval`: run configurations side by side, write a report, print the overall table."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rag.config import ROOT, Config
from rag.errors import RagError
from rag.eval import haystack, report, rgb
from rag.eval.configs import BASELINE, CONFIGS, DEFAULT_RUN, RGB_RUN, resolve
from rag.eval.gold import GOLD, load_gold
from rag.eval.runner import RunResult, run_config
from rag.store.embeddings import Embedder

REPORTS = ROOT / "eval" / "reports"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.eval",
        description="Score retrieval, answers, citations, abstention and latency per configuration.",
    )
    parser.add_argument("--gold", type=Path, default=GOLD, help=f"gold question file (default {GOLD.relative_to(ROOT)})")
    parser.add_argument(
        "--config", action="append", metavar="SPEC",
        help=f"configuration to run (repeatable): one of {', '.join(CONFIGS)}, or NAME:key=value,... "
        f"(default: {' '.join(DEFAULT_RUN)}; for rgb: {' '.join(RGB_RUN)})",
    )
    parser.add_argument("--benchmark", action="append", choices=["gold", "rgb", "bbc", "gold-bbc"],
                        help="question set(s) to run (repeatable; default gold): gold = the seed questions on the "
                        "seeds alone; bbc = the BBC questions (--split) on the seeds among the BBC stories; "
                        "gold-bbc = the seed questions on that same mixed corpus")
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test",
                        help="which half of the BBC questions to ask (default test; fit on dev only)")
    parser.add_argument("--corpus", type=Path,
                        help="haystack for bbc/gold-bbc: a folder of articles or a JSONL file of {id, title, text} "
                        "records (default the shared BBC copy, RAG_BBC_ARTICLES)")
    parser.add_argument("--workdir", type=Path,
                        help="keep indexes here between runs, so a haystack is embedded once (default: a temp folder)")
    parser.add_argument("--out", type=Path, help="report folder (default eval/reports/<timestamp>)")
    parser.add_argument("--rgb-dir", type=Path, help="RGB en_fact folder (default shared/benchmarks/rgb_en_fact)")
    parser.add_argument("--limit", type=int, help="only the first N questions of each set (quick checks)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import bm25s  # noqa: F401  (it sets its own logger to DEBUG on import: quieten it after that)

    logging.getLogger("bm25s").setLevel(logging.WARNING)

    load_before = _load()
    try:
        results, sections = run(args)
    except (RagError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    created = time.strftime("%Y-%m-%d %H:%M:%S")
    out_dir = args.out or REPORTS / time.strftime("%Y%m%d-%H%M%S")
    # Latency depends on what else the machine runs: the load average is kept with the figures.
    meta = {"created": created, "commit": report.git_commit(), "gold": str(args.gold), "sections": sections,
            "load_average": f"{load_before} at start, {_load()} at end (1-minute, {os.cpu_count()} CPUs)",
            "command": " ".join(["python -m rag.eval", *(argv if argv is not None else sys.argv[1:])])}
    path = report.write(results, out_dir, meta, make_plots=not args.no_plots)
    print(report.overall_tables(results))
    for r in results:
        if r.status != "ok":
            print(f"\nskipped {r.benchmark}/{r.config.name}: {r.note}")
    print(f"\nreport: {path}")
    return 0 if any(r.status == "ok" for r in results) else 1


def run(args: argparse.Namespace) -> tuple[list[RunResult], list[str]]:
    benchmarks = args.benchmark or ["gold"]
    # Everything that can be wrong on the command line fails before the model loads.
    gold_configs = resolve(args.config or DEFAULT_RUN)
    rgb_configs = resolve(args.config or RGB_RUN)
    gold_items = load_gold(args.gold)[: args.limit] if "gold" in benchmarks else []
    rgb_data = rgb.load(args.rgb_dir) if "rgb" in benchmarks else None
    base = Config.from_env()
    embedder = Embedder.from_config(base)  # one model for every configuration
    embedder.warm_up()
    results: list[RunResult] = []
    sections: list[str] = []
    progress = not args.quiet
    with tempfile.TemporaryDirectory(prefix="dossier-eval-") as tmp_name:
        tmp = args.workdir.resolve() if args.workdir else Path(tmp_name)
        if "gold" in benchmarks:
            # A private copy of the seed pages: uploads kept in seeds/uploads are not part of the set.
            seeds = tmp / "seeds"
            shutil.copytree(base.seeds_dir, seeds, ignore=shutil.ignore_patterns("uploads", ".*"), dirs_exist_ok=True)
            for config in gold_configs:
                results.append(run_config(config, gold_items, seeds_dir=seeds, workdir=tmp / f"gold-{config.name}",
                                          embedder=embedder, progress=progress))
        if rgb_data is not None:
            passages, items = rgb_data[0], rgb_data[1][: args.limit]
            corpus = rgb.write_corpus(passages, tmp / "rgb-corpus")
            sections.append(rgb_section(corpus))
            for config in rgb_configs:
                seeds = corpus.all_dir if config.kind == BASELINE else corpus.clean_dir
                results.append(run_config(config, items, seeds_dir=seeds, workdir=tmp / f"rgb-{config.name}",
                                          embedder=embedder, benchmark="rgb", extra_score=rgb.extra_score,
                                          progress=progress))
        mixed = [b for b in ("gold-bbc", "bbc") if b in benchmarks]
        if mixed:
            articles = args.corpus or haystack.default_articles()
            folder = tmp / "haystack-corpus"
            n = haystack.build(base.seeds_dir, articles, folder)
            sections.append(f"## Haystack\n\nThe seed pages among {n} articles from `{articles}`.\n\n{haystack.LICENCE}")
            sets = {"gold-bbc": load_gold(args.gold), "bbc": haystack.load_questions(args.split)}
            # Indexing thousands of stories per configuration is minutes each: default only unless asked.
            for config in resolve(args.config or ["default"]):
                for name in mixed:
                    label = name if name == "gold-bbc" else f"bbc-{args.split}"
                    # One index per configuration, shared by both question sets (built once).
                    results.append(run_config(config, sets[name][: args.limit], seeds_dir=folder,
                                              workdir=tmp / f"haystack-{config.name}", embedder=embedder,
                                              benchmark=label, progress=progress))
    return results, sections


def rgb_section(corpus: rgb.Corpus) -> str:
    lines = [
        "## RGB en_fact corpus",
        "",
        rgb.LICENCE,
        "",
        f"{corpus.passages} passages, one file each. Our cleaner accepted {corpus.passages - len(corpus.skipped)}; "
        f"it rejected {len(corpus.skipped)} (left out of our index, kept in the baseline's) and shortened "
        f"{len(corpus.trimmed)}. Scoring: retrieval against `gold_pids`; exact match = every accepted "
        "answer appears in the normalised answer text; token F1 against the best accepted answer.",
    ]
    lines += [f"- rejected `{pid}`: {why}" for pid, why in corpus.skipped.items()]
    lines += [f"- shortened `{pid}` by {n} words" for pid, n in corpus.trimmed.items()]
    return "\n".join(lines)


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"

