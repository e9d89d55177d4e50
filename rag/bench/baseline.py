"""llama-index's plain defaults, timed stage by stage, on the same corpus and the same MiniLM.

The system is the evaluation's baseline (`rag.eval.baseline`: SimpleDirectoryReader →
SentenceSplitter() → VectorStoreIndex on Chroma → top-k retriever, Settings.llm=None), with the
same embedding model object. `VectorStoreIndex.from_documents` does read → split → embed → write
in one call; here the same components run one after the other so each stage gets its own time.
The result is the index `from_documents` builds: `embed_nodes` only embeds nodes without a vector,
and we embed exactly the text it would (`get_content(MetadataMode.EMBED)`, metadata included).

With an `EmbeddingCache`, vectors are reused across benchmark runs (keyed by model and text, as for
our system), so the 10k baseline is paid once; the report marks cached figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.eval.baseline import BaselineSystem, baseline_embed_model
from rag.store.embed_cache import EmbeddingCache

COLLECTION = "baseline"


class _LlamaEmbedder:
    """Adapter: the llama-index embedding model behind the `embed(texts)` interface of the cache."""

    def __init__(self, model) -> None:
        self.model = model
        self.dimension = 384

    def embed(self, texts: list[str], on_slice: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self.model.get_text_embedding_batch(texts, show_progress=False), dtype=np.float32)
        if on_slice is not None:
            on_slice(len(texts))
        return vectors


def model_fingerprint() -> str:
    from rag.store.embeddings import Embedder

    # HuggingFaceEmbedding loads the same folder our Embedder does; its vectors are not
    # bit-identical to ours (other batching), so its cache entries are kept apart.
    return "llama-index-hf:" + Embedder().fingerprint


def ingest(corpus: Path, workdir: Path, cache: EmbeddingCache | None) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.store.embed_cache import embed_with_cache

    Settings.llm = None
    t = {}
    t0 = time.perf_counter()
    embed_model = baseline_embed_model()
    t["model_load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    docs = SimpleDirectoryReader(str(corpus)).load_data(show_progress=False)
    t["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nodes = SentenceSplitter()(docs)  # the defaults: 1,024 tokens, 200 overlap
    t["chunk"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    vectors, computed = embed_with_cache(_LlamaEmbedder(embed_model), texts, cache)
    for node, vec in zip(nodes, vectors):
        node.embedding = vec.tolist()
    t["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    client = chromadb.PersistentClient(path=str(workdir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection(COLLECTION))
    VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed_model)
    t["write"] = time.perf_counter() - t0
    return {"timings": t, "documents": len(docs), "chunks": len(nodes), "embedded_by_model": computed,
            "embedded_texts": len(texts), "wordpieces": _wordpieces(embed_model, texts)}


def _wordpieces(embed_model, texts: list[str]) -> int:
    """Word pieces the model actually reads (it truncates at 256)."""
    try:
        tok = embed_model._model.tokenizer
        return int(sum(min(256, len(ids)) for ids in tok(texts, add_special_tokens=True)["input_ids"]))
    except Exception:  # a private attribute of llama-index: the figure is informative only
        return -1


class OpenBaseline(BaselineSystem):
    """The eval baseline over an index built earlier (serving without re-indexing)."""

    def open(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Settings, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        Settings.llm = None
        client = chromadb.PersistentClient(path=str(self.workdir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
        store = ChromaVectorStore(chroma_collection=client.get_collection(COLLECTION))
        index = VectorStoreIndex.from_vector_store(store, embed_model=baseline_embed_model())
        self._retriever = index.as_retriever(similarity_top_k=self.top_k)
