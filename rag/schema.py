"""Typed records that cross module boundaries: documents → chunks → passages → answers."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# Index progress: called with (stage, done, total) as work is done, stage one of "read",
# "annotate", "embed" (see rag.indexer.Indexer.sync). Stages with nothing to do are not reported.
Progress = Callable[[str, int, int], None]
STAGE_LABELS = {"read": "reading files", "annotate": "tagging stories", "embed": "embedding sentences"}


@dataclass(frozen=True)
class Document:
    """One cleaned story. A scraped page carrying several stories becomes several documents."""

    doc_id: str
    title: str
    text: str  # cleaned text; every offset in the system points into this string
    source: str  # file name relative to the corpus folder
    publisher: str = ""
    date: str = ""
    content_hash: str = ""
    aside_names: tuple[str, ...] = ()
    url: str = ""  # the article's address, when its file gave one  # names printed around the story (masthead, byline)
    # Paged formats (PDF): offset in `text` where each page begins, page 1 first; () for the others.
    page_starts: tuple[int, ...] = ()
    encoding: str = ""  # the text encoding a .txt/.md/.html file was decoded with ("" for binary formats)

    def page_at(self, offset: int) -> int | None:
        return page_at(self.page_starts, offset)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    text: str
    start: int  # document.text[start:end] == text
    end: int
    title: str = ""

    def holds_most_of(self, start: int, end: int) -> bool:
        """At least half of the span [start, end) of the document lies inside this chunk."""
        return min(self.end, end) - max(self.start, start) >= 0.5 * (end - start)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and where it ranked."""

    chunk: Chunk
    score: float
    rank: int
    source: str = ""
    publisher: str = ""
    date: str = ""
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    snippet: str  # the exact cited text: document.text[start:end]
    start: int
    end: int
    score: float
    publisher: str = ""
    date: str = ""
    context: str = ""  # the passage the snippet sits in, for display
    context_start: int = 0  # offset of `context` in the document text
    url: str = ""  # the article's address, when known
    page: int | None = None  # the page the snippet starts on, for paged formats (PDF)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShortAnswer:
    """The direct answer (a name, number, amount or date), as written in the cited sentence."""

    text: str  # document.text[start:end] of the document `doc_id`
    doc_id: str
    start: int
    end: int
    label: str  # the entity type (PERSON, MONEY, DATE, …); PROPN for a name the tagger left untyped
    citation: int  # the [n] of the sentence it comes from
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Fallback(StrEnum):
    """Why a generative mode showed the extractive answer instead of its own ("" when it did not)."""

    NONE = ""
    NOT_ASKED = "not_asked"  # the extractive check found no answer, so the model was not asked
    BACKEND_FAILED = "backend_failed"  # the model failed, timed out or could not be reached
    MODEL_ABSTAINED = "model_abstained"  # the model said no, though a passage matches
    UNSUPPORTED = "unsupported"  # none of the model's sentences was supported by the articles


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    abstained: bool
    question: str = ""
    query: str = ""  # what was searched for (differs from question for follow-ups)
    passages: list[Passage] = field(default_factory=list)  # retrieved evidence, best first
    mode_used: str = "extractive"
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    short: ShortAnswer | None = None  # the direct answer, when the question asks for a value
    confidence: float | None = None  # the answer step's probability that its best sentence answers
    fallback: Fallback = Fallback.NONE  # why a generative mode fell back to the extractive answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "short": self.short.to_dict() if self.short else None,
            "confidence": self.confidence,
            "abstained": self.abstained,
            "question": self.question,
            "query": self.query,
            "mode_used": self.mode_used,
            "fallback": str(self.fallback),
            "notes": list(self.notes),
            "citations": [c.to_dict() for c in self.citations],
            "passages": [
                {
                    "rank": p.rank,
                    "score": p.score,
                    "doc_id": p.chunk.doc_id,
                    "title": p.chunk.title,
                    "source": p.source,
                    "start": p.chunk.start,
                    "end": p.chunk.end,
                    "text": p.chunk.text,
                }
                for p in self.passages
            ],
            "timings": dict(self.timings),
        }


@dataclass(frozen=True)
class FolderChanges:
    """How the seeds folder differs from what the served index was built from."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    rebuild: bool = False  # the index was built with other settings (model, chunking): all of it is redone

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuild)

    def describe(self, folder: str = "the seeds folder") -> str:
        """One line for a user: what changed, and the command that indexes it."""
        if self.rebuild:
            return f"the index was built with other settings; run `python -m rag index` to rebuild it from {folder}"
        counts = ", ".join(f"{n} {what}" for n, what in ((len(self.added), "new"), (len(self.updated), "changed"),
                                                          (len(self.removed), "removed")) if n)
        return (f"{folder} has {counts} file(s) since the last index; answers come from the index as it was. "
                "Run `python -m rag index` (or \"Index the folder's changes\" in the app) to include them.")


@dataclass(frozen=True)
class IndexReport:
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int
    chunks_embedded: int  # chunks of new or changed documents
    sentences_embedded: int
    documents: int
    chunks: int
    seconds: float

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class AddResult:
    """What adding a web link or a feed did: the files written into the seeds folder and indexed."""

    sources: list[str]  # new or changed files, relative to the seeds folder
    report: IndexReport
    known: int = 0  # feed entries imported by an earlier run (not fetched again)
    failed: list[str] = field(default_factory=list)  # feed entries that could not be imported, one line each


@dataclass(frozen=True)
class UploadResult:
    """One file of an upload: indexed (`report`, the whole upload's) or refused (`error`, one line)."""

    name: str
    report: IndexReport | None
    error: str = ""


@dataclass(frozen=True)
class RepairReport:
    """What `index --repair` found wrong with the index folder and what it did about it."""

    problems: list[str]  # each found problem, one line each; empty when the index was healthy
    removed: list[str]  # leftover files and folders deleted (interrupted runs, unreadable caches)
    rebuilt: IndexReport | None  # the rebuild from the seeds folder, when the index was unusable
    pruned_vectors: int = 0  # Chroma rows no manifest entry refers to (an interrupted update)


@dataclass(frozen=True)
class SentenceRow:
    """One indexed piece of a sentence: the whole sentence, or a clause of a long one."""

    doc_id: str
    start: int  # the sentence: document.text[start:end] == text
    end: int
    text: str
    seg_start: int = -1  # the embedded piece; -1 means the whole sentence
    seg_end: int = -1

    @property
    def segment(self) -> str:
        if self.seg_start < 0:
            return self.text
        return self.text[self.seg_start - self.start : self.seg_end - self.start]

    @classmethod
    def from_chroma(cls, meta: dict, text: str) -> SentenceRow:
        return cls(meta["doc_id"], int(meta["start"]), int(meta["end"]), text,
                   int(meta.get("seg_start", -1)), int(meta.get("seg_end", -1)))


@dataclass
class DocRecord:
    doc_id: str
    title: str
    source: str
    publisher: str
    date: str
    content_hash: str
    chars: int
    chunk_ids: list[str]
    sentence_ids: list[str]
    aside_names: list[str] = field(default_factory=list)
    # Entity spans [start, end, label] in the document text, sorted by start (rag.text.entities).
    entities: list[list] = field(default_factory=list)
    url: str = ""  # (indexes made before urls were kept load with none)
    page_starts: list[int] = field(default_factory=list)  # see Document.page_starts
    encoding: str = ""  # see Document.encoding

    def page_at(self, offset: int) -> int | None:
        return page_at(self.page_starts, offset)


def page_at(page_starts: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page holding `offset`, or None for a document without pages."""
    if not page_starts:
        return None
    return max(1, bisect_right(page_starts, offset))
