"""Dossier: ask questions of a collection of news articles, get short answers with citations.

    from rag import ask
    answer = ask("What did Japan offer India?")
    print(answer.text, answer.citations)

Layers, each importing only those below it (docs/architecture.md; `lint-imports` checks it):
shells (cli, eval, bench, web; app.py) → pipeline → answer → retrieve → store → ingest → text →
schema, config, errors, offline. rag.web imports rag.schema only.
"""

from rag.offline import enforce_offline

enforce_offline()

import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.errors import CorpusError, IndexCorruptError, QuestionError, RagError  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.schema import Answer, Chunk, Citation, Document, IndexReport, Passage  # noqa: E402

_default: Pipeline | None = None
_default_lock = threading.Lock()


def get_pipeline(config: Config | None = None) -> Pipeline:
    """The shared pipeline (models loaded and index opened on first call)."""
    global _default
    with _default_lock:
        if _default is None or (config is not None and config != _default.config):
            _default = Pipeline(config).warm_up()
        return _default


def ask(question: str, history: list[Any] | None = None) -> Answer:
    """Answer a question from the indexed articles, with numbered citations."""
    return get_pipeline().ask(question, history)


def ask_stream(question: str, history: list[Any] | None = None) -> Iterator[str | Answer]:
    """Yield the answer text as it is produced, then the final `Answer`."""
    return get_pipeline().ask_stream(question, history)


__all__ = [
    "Answer", "Chunk", "Citation", "Config", "CorpusError", "Document", "IndexCorruptError",
    "IndexReport", "Passage", "Pipeline", "QuestionError", "RagError", "ask", "ask_stream", "get_pipeline",
]
