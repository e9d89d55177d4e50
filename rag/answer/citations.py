"""Citations, shared by the extractive and the generative answers: each names an exact sentence
of an article, and its [n] marker sits inside the sentence's final full stop."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.schema import Citation, DocRecord, Passage, SentenceRow


def citation(n: int, row: SentenceRow, passage: Passage, doc: DocRecord | None, score: float) -> Citation:
    """Citation [n]: the sentence `row`, shown inside the retrieved `passage` it came from."""
    return Citation(
        n=n,
        doc_id=row.doc_id,
        title=doc.title if doc else passage.chunk.title,
        source=doc.source if doc else "",
        snippet=row.text,
        start=row.start,
        end=row.end,
        score=round(score, 4),
        publisher=doc.publisher if doc else "",
        url=doc.url if doc else "",
        date=doc.date if doc else "",
        context=passage.chunk.text,
        context_start=passage.chunk.start,
        page=doc.page_at(row.start) if doc else None,
    )


# A bracketed number in the article's (or the model's) own words ("…coastal states [1][2].") would
# read as one of the answer's citations, and the app would link it to a card it is not from.
_MARKER_LIKE = re.compile(r"\[(\d+)\]")


def with_markers(text: str, numbers: Sequence[int]) -> str:
    """Put the markers inside the sentence's final full stop: "…components [1].", "…tanks [1][2]."; the
    sentence's own bracketed numbers become "(1)", so that every [n] in an answer is a citation."""
    marks = "".join(f"[{n}]" for n in numbers)
    text = _MARKER_LIKE.sub(r"(\1)", text.strip())
    if text and text[-1] in ".!?" and (len(text) < 2 or text[-2] not in "'\"’”"):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"
