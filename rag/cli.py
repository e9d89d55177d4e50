"""Command line: `python -m rag index|add|ask|sources`. A thin shell over the Python API."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
import threading
from pathlib import Path

from tqdm import tqdm

from rag.config import Config
from rag.errors import RagError
from rag.ingest.imports import PARTS, Fields, import_path
from rag.pipeline import Pipeline
from rag.schema import STAGE_LABELS, Answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask questions of news articles, get cited answers.")
    parser.add_argument("--traceback", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True)
    p_index = sub.add_parser("index", help="index the seeds folder (only new or changed files are embedded)")
    p_index.add_argument("--rebuild", action="store_true", help="rebuild from scratch (the old index serves until done)")
    p_index.add_argument("--repair", action="store_true",
                         help="check the index folder, clear what interrupted runs left, rebuild a damaged index from seeds/")
    p_index.add_argument("--add", type=Path, metavar="PATH",
                         help="first import another folder, or a .jsonl/.csv export (one article per record), "
                              "into seeds/imported/<name>/")
    p_index.add_argument("--name", help="folder name for the import under seeds/imported/ (default: PATH's name)")
    for part in PARTS:
        p_index.add_argument(f"--{part}-field", metavar="NAME",
                             help=f"field or column holding the article's {part} (default {part!r}"
                                  + (", required)" if part == "text" else ", used when present)"))
    p_add = sub.add_parser("add", help="add a web link, an RSS/Atom feed (--feed) or a file, and index it")
    p_add.add_argument("source", help="an http(s) link, a feed's address or file with --feed, or a file to add")
    p_add.add_argument("--feed", action="store_true", help="SOURCE is an RSS or Atom feed: import its new entries")
    p_ask = sub.add_parser("ask", help="answer a question with numbered sources")
    p_ask.add_argument("question")
    p_ask.add_argument("--history", action="append", default=[], metavar="QUESTION", help="an earlier question (repeatable, oldest first)")
    p_ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    sub.add_parser("sources", help="list indexed documents")
    args = parser.parse_args(argv)

    try:
        config = Config.from_env()
        if args.command == "index" and args.repair:
            with ProgressBars() as bars:
                fixed = Pipeline(config).repair(progress=bars)
            for problem in fixed.problems:
                print(f"found: {problem}", file=sys.stderr)
            if not fixed.problems:
                print("the index is healthy: nothing to repair")
            else:
                done = [f"removed {', '.join(fixed.removed)}"] if fixed.removed else []
                done += [f"deleted {fixed.pruned_vectors:,} left-over vectors"] if fixed.pruned_vectors else []
                if fixed.rebuilt is not None:
                    done.append(f"rebuilt the index from {config.seeds_dir}: {fixed.rebuilt.documents} documents, "
                                f"{fixed.rebuilt.chunks} chunks")
                print("repaired: " + "; ".join(done))
        elif args.command == "index":
            pipeline = Pipeline(config)
            if args.add is not None:
                result = import_path(args.add, config.seeds_dir, Fields.named(**{part: getattr(args, f"{part}_field") for part in PARTS}), config.max_file_bytes, args.name)
                print(f"imported {args.add} into {result.folder}: {result.written} new or changed, "
                      f"{result.unchanged} unchanged, {result.removed} removed", file=sys.stderr)
            with ProgressBars() as bars:
                report = pipeline.index(rebuild=args.rebuild, progress=bars)
            print(
                f"{report.documents} documents, {report.chunks} chunks indexed in {report.seconds:.1f}s "
                f"(added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
                f"unchanged {report.unchanged}; {report.sentences_embedded:,} sentence pieces of the new stories embedded)"
            )
        elif args.command == "add":
            pipeline = Pipeline(config)
            with ProgressBars() as bars:  # shown only when there is no index yet and one is built
                pipeline.warm_up(progress=bars)
            print(add(pipeline, args.source, feed=args.feed))
        elif args.command == "ask":
            pipeline = Pipeline(config)
            pipeline.check_question(args.question)  # a bad question fails before models load
            with ProgressBars() as bars:  # shown only when there is no index yet and one is built
                pipeline.warm_up(progress=bars)
            note = pipeline.folder_note()
            if note:  # never indexed silently: say so, and how
                print(f"note: {note}", file=sys.stderr)
            answer = pipeline.ask(args.question, history=args.history)
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) if args.json else render(answer, bold=_bold_ok()))
        elif args.command == "sources":
            for d in Pipeline(config).warm_up(sync=False).documents():
                meta = ", ".join(x for x in (d.publisher, d.date) if x)
                print(f"{d.doc_id}\t{d.title}" + (f" ({meta})" if meta else "") + f"\t{d.source}\t{len(d.chunk_ids)} chunks")
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not bad input: still one line, the traceback on request
        if args.traceback:
            raise
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (run with --traceback for details)", file=sys.stderr)
        return 1
    return 0


def add(pipeline: Pipeline, source: str, feed: bool = False) -> str:
    """Add a link, a feed's new entries or a local file; what was done, for the user."""
    if feed:
        result = pipeline.add_feed(source)
        lines = [f"feed {source}: {len(result.sources)} new article(s) indexed, {result.known} already imported, "
                 f"{len(result.failed)} failed; now {result.report.documents} documents"]
        lines += [f"  failed: {line}" for line in result.failed]
        lines += [f"  added {s}" for s in result.sources]
        return "\n".join(lines)
    path = Path(source).expanduser()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", source, re.I) and path.is_file():
        report = pipeline.upload(path.name, path.read_bytes())
        return f"added {path.name}: {report.chunks_embedded} chunks embedded; now {report.documents} documents"
    result = pipeline.add_link(source)
    if not result.sources:
        return f"{source}: already indexed, unchanged; {result.report.documents} documents"
    return (f"added {source} as {result.sources[0]}: {result.report.chunks_embedded} chunks embedded; "
            f"now {result.report.documents} documents")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


class ProgressBars:
    """A tqdm bar on stderr per indexing stage (read, annotate, embed), with count, rate and ETA."""

    def __init__(self, disable: bool | None = None) -> None:
        self.disable = disable
        self.bars: dict[str, tqdm] = {}
        self._lock = threading.Lock()  # tagging and embedding report at once, from two threads

    def __call__(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            bar = self.bars.get(stage)
            if bar is None:
                unit = {"read": "file", "annotate": "story"}.get(stage, "sentence")
                # disable=None: bars only on a terminal, so logs and pipes stay clean. One line
                # per stage (position), as two stages run at once.
                bar = self.bars[stage] = tqdm(total=total, desc=STAGE_LABELS.get(stage, stage), unit=unit,
                                              file=sys.stderr, disable=self.disable, dynamic_ncols=True,
                                              position=len(self.bars))
            bar.update(done - bar.n)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self.bars.values():
            bar.close()


def render(answer: Answer, bold: bool = False) -> str:
    """The answer as text: the direct answer first (ANSI bold when `bold`), the cited text, the sources."""
    lines = []
    if answer.short is not None:
        value = " ".join(answer.short.text.split())
        value = f"\033[1m{value}\033[0m" if bold else value
        lines.append(f"Answer: {value} [{answer.short.citation}]")
    lines.append(textwrap.fill(answer.text, 100))
    if answer.query != answer.question:
        lines.append(f"(searched for: {answer.query})")
    lines.extend(f"note: {n}" for n in answer.notes)
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            meta = ", ".join(x for x in (c.publisher, c.date, c.source, f"p. {c.page}" if c.page else "", c.url) if x)
            lines.append(f"[{c.n}] {c.title} ({meta})")
            lines.append(textwrap.indent(textwrap.fill(f"“{c.snippet}”", 96), "    "))
    elif answer.passages:
        lines.append("\nClosest passages:")
        for p in answer.passages[:3]:
            lines.append(f"- {p.chunk.title} ({p.source})")
            lines.append(textwrap.indent(textwrap.fill(p.chunk.text[:300] + ("…" if len(p.chunk.text) > 300 else ""), 96), "    "))
    return "\n".join(lines)


def _bold_ok() -> bool:
    """Bold only on a terminal (never in a pipe or a file), and not when NO_COLOR is set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
