"""How far entity spans tagged paragraph by paragraph (what the index keeps) differ from spans
tagged over the whole story at once (what it kept before), on real stories.

    .venv/bin/python scripts/compare_entity_units.py --articles ../shared/benchmarks/bbc_news/articles.jsonl -n 300

Prints one JSON object: spans in each, exact agreement (same start, end and label), the share of
whole-story spans kept, the label changes and a few examples of each kind of difference.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

import rag  # noqa: F401  (offline environment first)
from rag.ingest.loaders import parse
from rag.text.entities import KEPT_LABELS, EntityTagger, ner_pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=Path, required=True, help="JSONL with title and text fields")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    records = [json.loads(line) for line in args.articles.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(args.seed).shuffle(records)
    # The text as the index holds it: cleaned by the same loader.
    texts = [parse(f"{i}.txt", f"{r['title']}\n\n{r['text']}".encode(), ".txt")[0].text for i, r in enumerate(records[: args.n])]

    nlp = ner_pipeline()
    whole = [{(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in KEPT_LABELS}
             for doc in nlp.pipe(texts, batch_size=16)]
    by_paragraph = [{(e.start, e.end, e.label) for e in ents} for ents in EntityTagger(None).tag(texts)]

    same = sum(len(w & p) for w, p in zip(whole, by_paragraph))
    n_whole = sum(map(len, whole))
    n_para = sum(map(len, by_paragraph))
    relabelled: Counter[str] = Counter()
    examples: dict[str, list[str]] = {"only whole": [], "only paragraph": [], "relabelled": []}
    for text, w, p in zip(texts, whole, by_paragraph):
        w_span = {(s, e): lab for s, e, lab in w}
        p_span = {(s, e): lab for s, e, lab in p}
        for span in w_span.keys() & p_span.keys():
            if w_span[span] != p_span[span]:
                relabelled[f"{w_span[span]}->{p_span[span]}"] += 1
                _example(examples["relabelled"], f"{text[span[0]:span[1]]!r} {w_span[span]}->{p_span[span]}")
        for s, e in w_span.keys() - p_span.keys():
            _example(examples["only whole"], f"{text[s:e]!r} {w_span[(s, e)]}")
        for s, e in p_span.keys() - w_span.keys():
            _example(examples["only paragraph"], f"{text[s:e]!r} {p_span[(s, e)]}")
    print(json.dumps({
        "stories": len(texts),
        "spans_whole": n_whole,
        "spans_paragraph": n_para,
        "exact_agreement": same,
        "share_of_whole_kept": round(same / max(1, n_whole), 4),
        "share_of_paragraph_in_whole": round(same / max(1, n_para), 4),
        "jaccard": round(same / max(1, n_whole + n_para - same), 4),
        "stories_identical": sum(w == p for w, p in zip(whole, by_paragraph)),
        "relabelled": dict(relabelled.most_common(10)),
        "examples": examples,
    }, indent=1, ensure_ascii=False))


def _example(bucket: list[str], text: str, keep: int = 8) -> None:
    if len(bucket) < keep:
        bucket.append(text)


if __name__ == "__main__":
    main()
