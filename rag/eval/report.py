"""report.md, report.json and PNG plots for one evaluation run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.config import ROOT
from rag.eval.metrics import HIGHER_IS_BETTER, HIT_KS, QuestionScore
from rag.eval.runner import RunResult


def git_commit() -> str:
    """The commit the code runs from, "+dirty" with uncommitted changes: results record it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (out.stdout.strip() or "?") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


LABELS = {
    "hit@1": "hit@1", "hit@3": "hit@3", "hit@5": "hit@5", "mrr": "MRR",
    "fact_recall": "fact recall", "all_facts": "all facts", "token_f1": "token F1",
    "exact_match": "exact match", "short_exact": "short answer exact", "short_given": "short answer given", "cit_precision": "citation precision", "gold_cited": "gold article cited",
    "abstain_precision": "abstain precision", "abstain_recall": "abstain recall",
    "false_refusal": "answerable refused", "latency_p50": "p50", "latency_p95": "p95",
    "answer_words": "answer words", "passed": "passed", "errors": "errors", "fallbacks": "fell back",
}
RETRIEVAL = [f"hit@{k}" for k in HIT_KS] + ["mrr"]
GOLD_TABLES = {
    "Retrieval and answers": RETRIEVAL + ["fact_recall", "all_facts", "short_exact", "short_given", "token_f1", "passed"],
    "Citations, abstention, latency": [
        "cit_precision", "gold_cited", "abstain_precision", "abstain_recall", "false_refusal",
        "latency_p50", "latency_p95", "answer_words",
    ],
}
RGB_TABLES = {
    "RGB en_fact": RETRIEVAL + ["exact_match", "short_exact", "short_given", "token_f1", "false_refusal", "latency_p50", "latency_p95", "answer_words"],
}
PLOTTED = RETRIEVAL + ["fact_recall", "all_facts", "exact_match", "token_f1", "cit_precision", "gold_cited",
                       "abstain_precision", "abstain_recall", "false_refusal"]


def fmt(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key.startswith("latency"):
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if isinstance(value, int) or key == "answer_words":
        return f"{value:.0f}"
    return f"{value:.3f}"


def tables_for(benchmark: str) -> dict[str, list[str]]:
    return RGB_TABLES if benchmark == "rgb" else GOLD_TABLES


def overall_tables(results: list[RunResult]) -> str:
    """The overall figures, one markdown table per group, one row per configuration."""
    parts: list[str] = []
    for benchmark in dict.fromkeys(r.benchmark for r in results):
        ran = [r for r in results if r.benchmark == benchmark and r.status == "ok"]
        if not ran:
            continue
        for title, keys in tables_for(benchmark).items():
            rows = [f"| config | {' | '.join(LABELS[k] for k in keys)} |", "|---" * (len(keys) + 1) + "|"]
            rows += [f"| {r.config.name} | {' | '.join(fmt(k, r.overall.get(k)) for k in keys)} |" for r in ran]
            parts.append(f"### {title} ({benchmark}, {ran[0].overall['questions']} questions)\n\n" + "\n".join(rows))
    return "\n\n".join(parts)


def winners(results: list[RunResult]) -> list[str]:
    """Per figure, the configuration(s) with the best value."""
    lines: list[str] = []
    for benchmark in dict.fromkeys(r.benchmark for r in results):
        ran = [r for r in results if r.benchmark == benchmark and r.status == "ok"]
        if len(ran) < 2:
            continue
        keys = [k for group in tables_for(benchmark).values() for k in group if k in HIGHER_IS_BETTER]
        for key in keys:
            vals: dict[str, float] = {r.config.name: v for r in ran if (v := r.overall.get(key)) is not None}
            if not vals:
                continue
            best = (max if HIGHER_IS_BETTER[key] else min)(vals.values())
            # Latency ties within 10%; rates tie within half a question's worth.
            tol = 0.1 * best if key.startswith("latency") else 0.005
            top = [n for n, v in vals.items() if abs(v - best) <= tol]
            lines.append(f"- {benchmark} / {LABELS[key]}: **{', '.join(top)}** ({fmt(key, best)})")
    return lines


def _status(s: QuestionScore) -> str:
    return "ok" if s.passed else "FAIL"


def question_table(scores: list[QuestionScore]) -> str:
    head = "| id | type | status | rank | facts | F1 | refused | cites ok | gold cited | ms | why |\n" + "|---" * 11 + "|"
    rows = []
    for s in sorted(scores, key=lambda s: (s.passed, s.id)):
        facts = f"{sum(s.facts)}/{len(s.facts)}" if s.answerable else "-"
        cites = f"{s.supported_citations}/{s.citations}" if s.answerable and s.citations else "-"
        rows.append(
            f"| {s.id} | {s.type} | {_status(s)} | {s.rank or '-'} | {facts} | "
            f"{fmt('f1', s.f1) if s.f1 is not None else '-'} | {'yes' if s.abstained else 'no'} | {cites} | "
            f"{'-' if s.gold_cited is None else ('yes' if s.gold_cited else 'no')} | {s.seconds * 1000:.0f} | "
            f"{'; '.join(s.reasons).replace('|', '/')} |"
        )
    return head + "\n" + "\n".join(rows)


def failure_details(scores: list[QuestionScore], limit: int = 400) -> str:
    out = []
    for s in (s for s in scores if not s.passed):
        answer = s.answer if len(s.answer) <= limit else s.answer[:limit] + "…"
        out.append(
            f"- **{s.id}** ({s.type}) {s.question}\n  - why: {'; '.join(s.reasons)}\n"
            + (f"  - direct answer: {s.short}\n" if s.short else "")
            + f"  - answer: {answer.replace(chr(10), ' ')!s}\n"
            f"  - retrieved: {', '.join(s.retrieved_docs) or 'nothing'}"
            + (f"\n  - notes: {'; '.join(s.notes)}" if s.notes else "")
            + (f"\n  - evidence not in the indexed text: {s.evidence_missing}" if s.evidence_missing else "")
        )
    return "\n".join(out) or "None."


def comparison_matrix(results: list[RunResult]) -> str:
    """Per question, pass/fail in every configuration: where configurations disagree."""
    ran = [r for r in results if r.status == "ok"]
    ids = list(dict.fromkeys(s.id for r in ran for s in r.scores))
    by = {r.config.name: {s.id: s for s in r.scores} for r in ran}
    head = "| id | " + " | ".join(by) + " |\n" + "|---" * (len(by) + 1) + "|"
    rows = []
    for qid in ids:
        cells = [_status(by[n][qid]) if qid in by[n] else "" for n in by]
        if len(set(cells)) > 1:
            rows.append(f"| {qid} | " + " | ".join(cells) + " |")
    return head + "\n" + "\n".join(rows) if rows else "Every configuration passes and fails the same questions."


def by_type(scores: list[QuestionScore]) -> str:
    types = list(dict.fromkeys(s.type for s in scores))
    head = "| type | n | hit@5 | fact recall | all facts | refused |\n|---|---|---|---|---|---|"
    rows = []
    for t in types:
        ss = [s for s in scores if s.type == t]
        ans = [s for s in ss if s.answerable]

        def mean(xs: Iterable[float]) -> str:
            xs = list(xs)
            return f"{sum(xs) / len(xs):.2f}" if xs else "-"

        rows.append(
            f"| {t} | {len(ss)} | {mean(float(s.rank is not None and s.rank <= 5) for s in ans)} | "
            f"{mean(s.fact_recall for s in ans if s.fact_recall is not None)} | "
            f"{mean(float(bool(s.all_facts)) for s in ans)} | {mean(float(s.abstained) for s in ss)} |"
        )
    return head + "\n" + "\n".join(rows)


def plots(results: list[RunResult], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers or CI
    import matplotlib.pyplot as plt

    written: list[str] = []
    for benchmark in dict.fromkeys(r.benchmark for r in results):
        ran = [r for r in results if r.benchmark == benchmark and r.status == "ok"]
        if not ran:
            continue
        keys = [k for k in PLOTTED if any(r.overall.get(k) is not None for r in ran)]
        fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(keys)), 4.5))
        width = 0.8 / len(ran)
        for i, r in enumerate(ran):
            xs = [j + i * width for j in range(len(keys))]
            ax.bar(xs, [r.overall.get(k) or 0.0 for k in keys], width, label=r.config.name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))])
        ax.set_xticklabels([LABELS[k] for k in keys], rotation=35, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{benchmark}: figures per configuration (answerable refused: lower is better)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"metrics_{benchmark}.png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)

        fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(ran)), 4))
        data = [[s.seconds * 1000 for s in r.scores if not s.error] or [0.0] for r in ran]
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(ran) + 1))
        ax.set_xticklabels([r.config.name for r in ran])
        ax.set_yscale("log")
        ax.set_ylabel("ms per question (log)")
        ax.set_title(f"{benchmark}: latency per question")
        fig.tight_layout()
        name = f"latency_{benchmark}.png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def _score_dict(s: QuestionScore) -> dict[str, Any]:
    d = asdict(s)
    d["passed"], d["cit_precision"] = s.passed, s.cit_precision
    return d


def write(results: list[RunResult], out_dir: Path, meta: dict[str, Any], make_plots: bool = True) -> Path:
    """Write everything into `out_dir`; returns the markdown report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plots(results, out_dir) if make_plots else []
    data = {
        "meta": meta,
        "runs": [
            {
                "benchmark": r.benchmark,
                "config": r.config.name,
                "description": r.config.description,
                "overrides": r.config.overrides,
                "status": r.status,
                "note": r.note,
                "settings": r.settings,
                "setup": r.setup,
                "seconds": r.seconds,
                "overall": r.overall,
                "questions": [_score_dict(s) for s in r.scores],
            }
            for r in results
        ],
    }
    (out_dir / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(results, meta, images), encoding="utf-8")
    return out_dir / "report.md"


def markdown(results: list[RunResult], meta: dict[str, Any], images: list[str]) -> str:
    md = [f"# Dossier evaluation, {meta.get('created', '')}", ""]
    md.append(f"Commit `{meta.get('commit', '?')}`; gold set `{meta.get('gold', '-')}`. "
              "Every configuration indexed the corpus into its own temporary folder.")
    if meta.get("load_average"):
        md.append(f"Load average: {meta['load_average']}; latencies are wall-clock and vary with it.")
    md += ["", "## Configurations", ""]
    for r in results:
        line = f"- **{r.config.name}** ({r.benchmark}): {r.config.description}"
        if r.status == "ok":
            line += (f". Indexed {r.setup.get('documents')} documents / {r.setup.get('chunks')} chunks "
                     f"in {r.setup.get('index_seconds')} s.")
        else:
            line += f". **Skipped:** {r.note}"
        md.append(line)
    md += ["", "## Overall", "", overall_tables(results), ""]
    md += [
        "How to read it: retrieval, answer and citation figures are over answerable questions; a refusal "
        "scores no facts. Abstain precision is over the questions a configuration refused (n/a: it never "
        "refused). **The baseline's answer is the full text of its top retrieved chunk** (up to 1,024 "
        "tokens, see `answer words`), so its fact recall is inflated by length and its token F1 "
        "deflated; it never abstains and has no conversation memory (follow-ups are searched as typed), "
        "and its latency is retrieval only. It indexes whole files, so a story of the multi-story page "
        "`000_…` counts as its file for the baseline's document matching.",
        "",
    ]
    if any(r.overall.get("fallbacks") for r in results):
        md += ["Some answers fell back to another mode (column `fell back` in report.json).", ""]
    md += ["## Which configuration wins on what", "", *(winners(results) or ["Only one configuration ran."]), ""]
    for extra in meta.get("sections", []):
        md += [extra, ""]
    for benchmark in dict.fromkeys(r.benchmark for r in results):
        ran = [r for r in results if r.benchmark == benchmark and r.status == "ok"]
        if not ran:
            continue
        primary = ran[0]
        md += [f"## {benchmark}: per question, configuration `{primary.config.name}` (failures first)", ""]
        if benchmark != "rgb":
            md += ["### By question type", "", by_type(primary.scores), ""]
        md += ["### Failures in detail", "", failure_details(primary.scores), ""]
        md += ["### All questions", "", question_table(primary.scores), ""]
        if len(ran) > 1:
            md += [f"### {benchmark}: questions where configurations disagree", "", comparison_matrix(ran), ""]
    if images:
        md += ["## Plots", ""] + [f"![{name}]({name})" for name in images] + [""]
    return "\n".join(md)
