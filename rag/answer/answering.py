"""The interchangeable answer step: every mode takes an `AnswerRequest` and returns an `Answer`.

The request carries everything the step reads (`Evidence`, gathered by rag.retrieve.retrieval.gather):
no answerer touches the index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.retrieve.context import Evidence
from rag.schema import Answer, Passage

ABSTAIN_TEXT = "The articles don't answer this. The closest passages I found are listed below."


@dataclass
class AnswerRequest:
    question: str  # as the user typed it
    query: str  # standalone search query (the question, or a follow-up made standalone)
    passages: list[Passage]
    query_vector: np.ndarray
    evidence: Evidence  # the retrieved stories' sentences, entity spans, records and corpus statistics
    history: list[str] = field(default_factory=list)  # earlier user questions, oldest first
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent before the answer step


class Encoder(Protocol):
    """The embedding model as the answer step uses it (rag.store.embeddings.Embedder is one)."""

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


class Answerer(Protocol):
    name: str

    def warm_up(self) -> None: ...

    def answer(self, request: AnswerRequest) -> Answer: ...

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final Answer."""
        ...

