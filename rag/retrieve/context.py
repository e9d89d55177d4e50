"""What the answer step reads for one question, gathered from the index by `retrieval.gather`.

Records only (no store, no model): the answerers take an `Evidence` and never query the index,
so they can be tested on an `Evidence` built by hand from synthetic text (tests/test_answer_step.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from rag.schema import DocRecord, SentenceRow
from rag.text.entities import Entity

T = TypeVar("T")
# Derived per-story values kept per snapshot: story views are ~20 KB each at most, so the bound
# keeps a long-running app at 10k articles under ~100 MB.
MEMO_MAX = 4096
# Stories whose indexed rows and vectors a snapshot keeps (rag.retrieve.retrieval.gather). The
# 2,233 stories of the BBC eval corpus hold 38 KB of vectors and text each on average (p95 75 KB;
# measured 2026-12-07), so 512 of them take about 20 MB, 40 MB if all were long.
ROWS_MEMO_MAX = 512


class Memo:
    """Values derived from one index snapshot, made once per key (its tables never change).

    Bounded: past MEMO_MAX keys it starts afresh. Not locked: two threads may both make a value,
    and either result is the same."""

    def __init__(self, limit: int = MEMO_MAX) -> None:
        self.limit = limit
        self._items: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        hit = self._items.get(key)
        if hit is None:
            if len(self._items) > self.limit:
                self._items.clear()
            hit = self._items[key] = make()
        return hit  # type: ignore[no-any-return]  # (keys are namespaced by their makers)

    def get_many(self, keys: Sequence[Hashable], make: Callable[[list[Hashable]], Mapping[Hashable, T]]) -> list[T]:
        """The values of `keys`; those not kept yet are made by one call of `make` (one read of
        the index for all of them), which returns them by key."""
        kept = {k: v for k in keys if (v := self._items.get(k)) is not None}
        missing = [k for k in keys if k not in kept]
        made = make(missing) if missing else {}
        if len(self._items) + len(made) > self.limit:
            self._items.clear()
        self._items.update(made)
        return [kept[k] if k in kept else made[k] for k in keys]

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class CorpusStats:
    """Term statistics of the indexed passages (chunks): what the answer step weighs words by."""

    size: int  # passages indexed
    df: Mapping[str, int]  # term (rag.text.lexical.terms) → passages holding it
    metadata_terms: frozenset[str] = frozenset()  # terms of titles, publishers, file names and mastheads

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term the corpus never uses gets the highest weight."""
        return math.log(1 + (self.size + 1) / (self.df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        """Some passage holds the term."""
        return term in self.df


@dataclass(frozen=True)
class Sentences:
    """Indexed sentences, one vector each (a long sentence is indexed as several clause vectors:
    which one stands for it is the gatherer's choice, see Evidence)."""

    rows: list[SentenceRow]  # by story id, then start
    vectors: np.ndarray  # one row per sentence; shape (0, 0) when there are none

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Story:
    """One retrieved story: its indexed text and its record (title, publisher, date, url, ...)."""

    doc_id: str
    body: str  # the story's chunks in order, joined by spaces
    record: DocRecord | None = None  # None when the manifest lacks it (an interrupted update)


@dataclass(frozen=True)
class Evidence:
    """Everything the answer step reads of the index for one question.

    `sentences` holds every indexed sentence of the retrieved stories with its clause vector
    nearest the query (what the extractive answer ranks), `first_clauses` the same sentences with
    their first clause's vector (what grounding compares a model's sentences with), `entities`
    the entity spans inside each of `sentences.rows`.
    """

    sentences: Sentences
    entities: list[list[Entity]]  # parallel to sentences.rows
    stories: dict[str, Story]  # by doc id, every story a retrieved passage is from
    stats: CorpusStats
    first_clauses: Sentences | None = None  # None: the same as `sentences` (sentences of one clause)
    # The snapshot's memo of derived per-story views: the answer step's own derivations are kept
    # across questions (tokenising a story again per question costs at 10k articles).
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)
    signature: str = ""  # of the index tables it was gathered from

    def __post_init__(self) -> None:
        if len(self.entities) != len(self.sentences.rows):
            raise ValueError(f"{len(self.entities)} entity lists for {len(self.sentences.rows)} sentences")

    @property
    def grounding_sentences(self) -> Sentences:
        return self.first_clauses if self.first_clauses is not None else self.sentences

    def document(self, doc_id: str) -> DocRecord | None:
        story = self.stories.get(doc_id)
        return story.record if story else None
