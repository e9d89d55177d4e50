"""Token-aware, sentence-respecting chunks with exact character offsets into the cleaned text."""

from __future__ import annotations

from rag.schema import Chunk, Document


class Chunker:
    def __init__(self, chunk_tokens: int, overlap: int) -> None:
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.utils import get_tokenizer

        # get_tokenizer() is tiktoken cl100k_base read from llama-index-core's bundled cache.
        self._splitter = SentenceSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=overlap,
            tokenizer=get_tokenizer(),
            paragraph_separator="\n\n",
        )

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        search_from = 0
        for i, piece in enumerate(self._splitter.split_text(doc.text)):
            start = doc.text.find(piece, search_from)
            if start < 0:  # the splitter normalised whitespace; fall back to a whole-text search
                start = doc.text.find(piece)
            if start < 0:
                raise ValueError(f"chunk {i} of {doc.doc_id} is not a substring of the document text")
            end = start + len(piece)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}:{doc.content_hash[:8]}:{i}",
                    doc_id=doc.doc_id,
                    text=piece,
                    start=start,
                    end=end,
                    title=doc.title,
                )
            )
            search_from = start + 1
        return chunks
